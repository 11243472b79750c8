'use strict';

const nodemailer = require('nodemailer');

// One transport per process: nodemailer pools nothing by default, so this is cheap and
// keeps the SMTP settings in one place.
function createMailer(env = process.env) {
    const transport = nodemailer.createTransport({
        host: env.SMTP_HOST || '127.0.0.1',
        port: Number(env.SMTP_PORT || 1025),
        secure: false,
        // Mailpit accepts plain SMTP without auth; a real relay sets SMTP_USER/SMTP_PASS.
        auth: env.SMTP_USER ? {user: env.SMTP_USER, pass: env.SMTP_PASS} : undefined
    });
    const from = env.MAIL_FROM || 'example@localhost';
    return {
        send: ({to, subject, text}) => transport.sendMail({from, to, subject, text}),
        verify: () => transport.verify()
    };
}

module.exports = {createMailer};
