// W9 Node.js: UDP echo server (dgram).  usage: node node.js PORT
'use strict';
const dgram = require('dgram');
const port = +process.argv[2];
const s = dgram.createSocket('udp4');
s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
s.on('error', () => {});
s.bind(port, '127.0.0.1');
