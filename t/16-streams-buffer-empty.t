-- t/16-streams-buffer-empty.t - lem_buf_data() of an empty read buffer
-- is not NULL + 0 (a regression test).
--
-- An empty buffer owns no storage (mem == NULL); lem_buf_data returned
-- mem + start, undefined behaviour that clang's UBSan reports ("applying
-- zero offset to null pointer") on read(0), read('*a') at the end, etc.
-- Checked with clang -fsanitize=undefined when clang is there.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')

tap.plan(2, 60)

local src = tap.dir .. '/../lib/lem/streams'
local c = tap.writefile(tap.tmpname('.c'), [[
#include <stdio.h>
#include "buffer.h"
int main(void) {
	struct lem_buf b = LEM_BUF_INIT;
	const char *p = lem_buf_data(&b);
	size_t len;
	if (lem_buf_append(&b, "ab", 2) != 0) return 2;
	lem_buf_consume(&b, 2);
	p = lem_buf_data(&b);
	if (p == NULL || lem_buf_all(&b, &len) == NULL || len != 0) return 3;
	lem_buf_free(&b);
	puts("ok");
	return 0;
}
]])
local exe = tap.tmpname()
local _, _, st = tap.sh('command -v clang')
if st ~= 0 then
	tap.skip(2, 'no clang')
else
	local out, err
	out, err, st = tap.sh('clang -g -fsanitize=undefined -fno-sanitize-recover=undefined -I' ..
		tap.quote(src) .. ' -o ' .. exe .. ' ' .. c .. ' ' .. tap.quote(src .. '/buffer.c'))
	if not tap.is(st, 0, 'builds with clang -fsanitize=undefined', err) then
		tap.skip(1, 'no test program')
	else
		out, err, st = tap.sh(exe)
		tap.ok(st == 0 and out == 'ok\n' and not err:find('runtime error', 1, true),
			'no undefined behaviour on an empty buffer', err)
	end
end
tap.cleanup()
tap.done()
