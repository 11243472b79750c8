'use strict';

const http = require('http');
const mysql = require('mysql2/promise');
const Redis = require('ioredis');
const {createMailer} = require('@example/mail');
const {loadConfig} = require('./config');
const nativeAddon = require('./native');

async function connect(config) {
    const {database: name, ...rest} = config.database;
    // Create the database on first start, as Ghost's migrations would: the dev MySQL
    // under .dev-data/ starts empty.
    const admin = await mysql.createConnection(rest);
    await admin.query(`CREATE DATABASE IF NOT EXISTS \`${name}\``);
    await admin.end();
    const db = mysql.createPool({...rest, database: name, connectionLimit: 4});
    await db.query('CREATE TABLE IF NOT EXISTS visits (id INT AUTO_INCREMENT PRIMARY KEY, at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)');
    const redis = new Redis(config.redis, {lazyConnect: true, maxRetriesPerRequest: 1});
    await redis.connect();
    return {db, redis, mail: createMailer()};
}

function send(res, status, body) {
    res.writeHead(status, {'content-type': 'application/json'});
    res.end(JSON.stringify(body) + '\n');
}

async function handle({db, redis, mail}, req, res) {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/health') {
        const [[row]] = await db.query('SELECT 1 AS ok');
        const pong = await redis.ping();
        return send(res, 200, {
            mysql: row.ok === 1 ? 'ok' : 'bad',
            redis: pong === 'PONG' ? 'ok' : 'bad',
            native: nativeAddon()
        });
    }
    if (url.pathname === '/' && req.method === 'GET') {
        await db.query('INSERT INTO visits () VALUES ()');
        const [[{visits}]] = await db.query('SELECT COUNT(*) AS visits FROM visits');
        const hits = await redis.incr('example:hits');
        return send(res, 200, {visits: Number(visits), hits});
    }
    if (url.pathname === '/subscribe' && req.method === 'POST') {
        const to = url.searchParams.get('email');
        if (!to) {
            return send(res, 400, {error: 'pass ?email=ADDRESS'});
        }
        const info = await mail.send({to, subject: 'Welcome', text: 'You are subscribed.'});
        return send(res, 202, {messageId: info.messageId});
    }
    return send(res, 404, {error: 'not found'});
}

async function main() {
    const config = loadConfig();
    const deps = await connect(config);
    const server = http.createServer((req, res) => {
        handle(deps, req, res).catch((err) => {
            console.error(err);
            send(res, 500, {error: err.message});
        });
    });
    server.listen(config.port, config.host, () => {
        console.log(`listening on http://${config.host}:${config.port}`);
    });
    const stop = () => server.close(() => Promise.all([deps.db.end(), deps.redis.quit()]).then(() => process.exit(0)));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
