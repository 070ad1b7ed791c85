-- t/16-streams-buffer-empty.t - lem_buf_data() of an empty read buffer
-- is not NULL + 0 (a regression test).
--
-- An empty buffer owns no storage (mem == NULL); lem_buf_data returned
-- mem + start, undefined behaviour that clang's UBSan reports ("applying
-- zero offset to null pointer") on read(0), read('*a') at the end, etc.
-- Checked under UBSan: the sanitizer build's own, or clang's when clang
-- is there.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')

tap.plan(2, 60)

-- The check is t/buffer_empty.c.  make check builds it with the flags
-- of the build: in a sanitizer build (--enable-sanitizers) that one is
-- run; otherwise it is compiled here with clang -fsanitize=undefined.
local built = os.getenv('LEM_TEST_BUILT')
local exe, st, out, err
if built and os.getenv('LEM_TEST_SANITIZERS') == 'yes' then
	exe = built .. '/buffer_empty'
	local f = io.open(exe)
	if f then f:close() end
	tap.ok(f ~= nil, 'builds with -fsanitize=undefined (make check, --enable-sanitizers)', exe)
else
	local src = tap.dir .. '/../lib/lem/streams'
	exe = tap.tmpname()
	_, _, st = tap.sh('command -v clang')
	if st ~= 0 then
		tap.skip(2, 'no clang')
		exe = nil
	else
		out, err, st = tap.sh('clang -g -fsanitize=undefined -fno-sanitize-recover=undefined -I' ..
			tap.quote(src) .. ' -o ' .. exe .. ' ' .. tap.quote(tap.dir .. '/buffer_empty.c') ..
			' ' .. tap.quote(src .. '/buffer.c'))
		if not tap.is(st, 0, 'builds with clang -fsanitize=undefined', err) then
			tap.skip(1, 'no test program')
			exe = nil
		end
	end
end
if exe then
	out, err, st = tap.sh(tap.quote(exe))
	tap.ok(st == 0 and out == 'ok\n' and not err:find('runtime error', 1, true),
		'no undefined behaviour on an empty buffer', tap.values(st, out, err))
end
tap.cleanup()
tap.done()
