// P1 Node.js: child_process.spawn of PROGRAM N times, CONC at a time,
// stdio inherited as lem's default.
// usage: node node.js N CONC [PROGRAM]      prints "done N"
'use strict';
const { spawn } = require('child_process');
const n = process.argv[2] !== undefined ? +process.argv[2] : 5000, conc = +process.argv[3] || 50;
const prog = process.argv[4] || '/bin/true';
let started = 0, finished = 0;
if (n === 0) console.log('done 0');
function one() {
	if (started >= n) return;
	started++;
	const c = spawn(prog, [], { stdio: 'inherit' });
	c.on('exit', (code) => {
		if (code !== 0) throw new Error('child failed');
		if (++finished === n) console.log('done ' + n);
		else one();
	});
}
for (let i = 0; i < conc; i++) one();
