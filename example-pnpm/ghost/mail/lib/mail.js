'use strict';

const ms = require('ms');

// What the app sends when someone signs up; the expiry text comes from a dependency of
// this workspace package, so the app exercises a workspace link and its dependencies.
function welcome(to, {expiresIn = 24 * 60 * 60 * 1000} = {}) {
    return {
        to,
        subject: 'Welcome',
        text: `Confirm your address within ${ms(expiresIn, {long: true})}.`
    };
}

module.exports = {welcome};
