// P2 Node.js: fs.promises.readFile of the N files DIR/f0 .. DIR/f<N-1>,
// CONC at once.
// usage: node node.js DIR N CONC      prints "done N BYTES"
'use strict';
const fsp = require('fs').promises;
const dir = process.argv[2], n = process.argv[3] !== undefined ? +process.argv[3] : 2000, conc = +process.argv[4] || 64;
let next = 0, bytes = 0;
async function worker() {
	while (next < n) {
		const i = next++;
		const data = await fsp.readFile(dir + '/f' + i);
		bytes += data.length;
	}
}
Promise.all(Array.from({ length: conc }, worker)).then(() => console.log('done ' + n + ' ' + bytes));
