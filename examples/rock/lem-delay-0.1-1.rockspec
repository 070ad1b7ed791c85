-- lem-delay-0.1-1.rockspec - a sample rockspec for a third-party lem
-- module written in C (README "LuaRocks").  Build and install it from
-- this directory with
--	luarocks make lem-delay-0.1-1.rockspec
-- (add --tree DIR for a tree of your own).  lem.h and its Lua and libev
-- headers are found with pkg-config (lem.pc, from lem or lem-dev), and
-- the module links nothing: lem provides every symbol.
package = 'lem-delay'
version = '0.1-1'
source = {
	-- a real module names its release here; `luarocks make` builds the
	-- directory it runs in and does not fetch this
	url = 'file://./lem-delay-0.1.tar.gz',
}
description = {
	summary = 'delay.value(seconds, v): v, after seconds, without blocking lem',
	detailed = [[
A sample lem module in C: it suspends the calling coroutine on lem's
libev loop with the lem.h API.  It loads only into lem, not into lua.]],
	-- lem.h is GPL-3.0-or-later: modules that include it must be under a
	-- GPL-compatible licence
	license = 'GPL-3.0-or-later',
}
dependencies = {
	'lua >= 5.1, < 5.2',
}
build = {
	type = 'command',
	-- backquotes, not $(...): LuaRocks reads $(NAME) as its own variables
	build_command = [[$(CC) $(CFLAGS) `pkg-config --cflags lem` $(LIBFLAG) -o delay.so delay.c]],
	install = {
		lib = { delay = 'delay.so' },
	},
}
