// W8 Node.js: echo server on a Unix-domain socket (net).
// usage: node node.js PATH
'use strict';
const net = require('net');
const path = process.argv[2];
net.createServer((s) => {
  s.on('data', (d) => s.write(d));
  s.on('error', () => {});
}).listen({ path, backlog: 4096 });
