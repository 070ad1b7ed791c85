// T1/T2 Node.js: https, keep-alive, TLS 1.3 only.
// usage: node node.js PORT CERT KEY
const https = require('https');
const fs = require('fs');
const [port, cert, key] = process.argv.slice(2);
const body = 'Hello, World!\n';
const server = https.createServer({
  cert: fs.readFileSync(cert), key: fs.readFileSync(key),
  minVersion: 'TLSv1.3', keepAliveTimeout: 300000,
}, (req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 300000;
server.listen(Number(port), '127.0.0.1', 4096, () => {
  console.log(`t1 node on port ${server.address().port}`);
});
