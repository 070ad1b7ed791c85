// WS node: a WebSocket echo server with the ws package from npm (not
// part of lem's tests: install it in this folder, npm install ws).
// usage: node node.js PORT
const { WebSocketServer } = require('ws');
const port = parseInt(process.argv[2], 10);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
wss.on('listening', () => console.log(`ws node on port ${wss.address().port}`));
wss.on('connection', (ws) => {
	ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
