// W7 Node: 100,000 async functions pass 1,000,000 values through a
// bounded queue made of promises (50,000 producers, 50,000 consumers,
// 20 values each, capacity 1,000).
// usage: node node.js [PRODUCERS [VALUES_EACH]]    prints "done N"
'use strict';
const P = +(process.argv[2] || 50000), K = +(process.argv[3] || 20);
class Queue {
	constructor(cap) { this.cap = cap; this.items = []; this.getters = []; this.putters = []; }
	put(v) {
		if (this.getters.length) { this.getters.shift()(v); return Promise.resolve(true); }
		if (this.items.length < this.cap) { this.items.push(v); return Promise.resolve(true); }
		return new Promise((res) => this.putters.push([v, res]));
	}
	get() {
		if (this.items.length) {
			const v = this.items.shift();
			if (this.putters.length) { const [pv, res] = this.putters.shift(); this.items.push(pv); res(true); }
			return Promise.resolve(v);
		}
		if (this.putters.length) { const [pv, res] = this.putters.shift(); res(true); return Promise.resolve(pv); }
		return new Promise((res) => this.getters.push(res));
	}
}
const q = new Queue(1000);
let got = 0;
const all = [];
for (let i = 0; i < P; i++) {
	(async () => { for (let j = 0; j < K; j++) await q.put(j); })();
	all.push((async () => { for (let j = 0; j < K; j++) await q.get(); got += K; })());
}
Promise.all(all).then(() => console.log('done ' + got));
