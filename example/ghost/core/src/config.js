'use strict';

// All settings come from the environment, so the dev shell (process-compose), the Docker
// image and CI configure the same code the same way.
function loadConfig(env = process.env) {
    const database = {
        user: env.DB_USER || 'root',
        password: env.DB_PASSWORD || undefined,
        database: env.DB_NAME || 'example'
    };
    if (env.DB_SOCKET) {
        database.socketPath = env.DB_SOCKET;
    } else {
        database.host = env.DB_HOST || '127.0.0.1';
        database.port = Number(env.DB_PORT || 3306);
    }
    const redis = env.REDIS_SOCKET ? {path: env.REDIS_SOCKET} : (env.REDIS_URL || 'redis://127.0.0.1:6379');
    return {
        host: env.HOST || '127.0.0.1',
        port: Number(env.PORT || 2368),
        database,
        redis
    };
}

module.exports = {loadConfig};
