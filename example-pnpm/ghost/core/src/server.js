'use strict';

const http = require('http');
const debug = require('debug')('example-pnpm:server');
const {welcome} = require('@example-pnpm/mail');

// `--self-test` prints where each dependency resolved and exits: the Nix side checks with
// it that the built app finds its node_modules (a separate store path) and workspace links.
if (process.argv.includes('--self-test')) {
    const resolved = ['debug', 'ms', '@example-pnpm/mail'].map(name => {
        const from = name === 'ms' ? require.resolve('@example-pnpm/mail') : __filename;
        return [name, require.resolve(name, {paths: [from]})];
    });
    console.log(JSON.stringify({mail: welcome('a@example.com').text, resolved: Object.fromEntries(resolved)}));
    process.exit(0);
}

const host = process.env.HOST || '127.0.0.1';
const port = Number(process.env.PORT || 2368);
http.createServer((req, res) => {
    debug('%s %s', req.method, req.url);
    res.writeHead(200, {'content-type': 'application/json'});
    if (req.url === '/health') {
        return res.end(JSON.stringify({ok: true}) + '\n');
    }
    res.end(JSON.stringify(welcome('reader@example.com')) + '\n');
}).listen(port, host, () => console.log(`listening on http://${host}:${port}`));
