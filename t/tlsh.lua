-- t/tlsh.lua - helpers for the tests of lem.tls: certificates made for
-- the test with openssl(1), and peer programs started without blocking.
--
-- Copyright (C) 2026 the lem authors.  Part of lem, free software under
-- the GNU General Public License version 3 or later; see COPYING.
--
--	local tap = dofile(...)          -- t/tap.lua first
--	local tlsh = dofile(tap.dir .. '/tlsh.lua')(tap)
--	tlsh.skip_all(n)                 -- # SKIP the whole file if lem.tls
--	                                    or openssl(1) is missing
--	local c = tlsh.certs()           -- temporary files (tap.cleanup)
--	local p = tlsh.spawn(cmd)        -- a peer: p.out (a lem stream of
--	                                    its stdout and stderr), p.pid
--
-- Every certificate is made when the test runs and is valid for two
-- days (except the one made to have expired): nothing committed expires.
local utils = require 'lem.utils'
local streams = require 'lem.streams'

return function(tap)
	local tlsh = {}

	tlsh.tls_ok, tlsh.tls = pcall(require, 'lem.tls')
	if not tlsh.tls_ok then tlsh.tls = nil end

	function tlsh.have(cmd)
		local _, _, st = tap.sh('command -v ' .. cmd .. ' >/dev/null')
		return st == 0
	end

	-- the test cannot run at all: every test of the plan is skipped
	function tlsh.skip_all(n, seconds)
		local why
		if not tlsh.tls then
			why = 'lem.tls is not built (./configure --without-tls, or no OpenSSL 3)'
		elseif not tlsh.have('openssl') then
			why = 'openssl(1) is not installed (apt-get install openssl)'
		end
		if why then
			tap.plan(n, seconds)
			tap.skip(n, why)
			tap.done()
			os.exit(0)
		end
	end

	local config = [[
[req]
distinguished_name = dn
prompt = no
[dn]
CN = lem test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[srv_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
[other_ext]
basicConstraints = CA:FALSE
subjectAltName = DNS:other.example
[wild_ext]
basicConstraints = CA:FALSE
subjectAltName = DNS:*.example.test
[ca]
default_ca = ca_d
[ca_d]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = pol
unique_subject = no
x509_extensions = srv_ext
[pol]
commonName = supplied
]]

	-- The files (all PEM):
	--   ca, ca_key          a CA (ECDSA P-256)
	--   cert, key           localhost, 127.0.0.1, ::1 from the CA (P-256)
	--   rsa_cert, rsa_key   the same names with an RSA 2048 key
	--   chain               cert followed by ca
	--   expired             cert's key and names, from the CA, 2020
	--   other               other.example from the CA, with key
	--   self, self_key      localhost, self-signed
	--   client, client_key  a client certificate from the CA
	--   other_key           a key of no certificate here
	--   ca2                 another CA, which signed none of these
	local certs
	function tlsh.certs()
		if certs then return certs end
		local d = tap.tmpname('.pki')
		local ec = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'
		local script = table.concat({
			'set -e',
			'mkdir -p ' .. tap.quote(d),
			'cd ' .. tap.quote(d),
			'cat > cnf',
			'touch index.txt',
			'echo 10 > serial',
			'openssl req -x509 -config cnf -extensions ca_ext ' .. ec ..
				' -keyout ca.key -out ca.pem -days 2 -subj "/CN=lem test CA"',
			'openssl req -x509 -config cnf -extensions ca_ext ' .. ec ..
				' -keyout ca2.key -out ca2.pem -days 2 -subj "/CN=lem other CA"',
			'openssl req -new -config cnf ' .. ec ..
				' -keyout key.pem -out s.csr -subj /CN=localhost',
			'openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -set_serial 2' ..
				' -days 2 -extfile cnf -extensions srv_ext -out cert.pem',
			'cat cert.pem ca.pem > chain.pem',
			'openssl req -new -config cnf -newkey rsa:2048 -nodes' ..
				' -keyout rsa.key -out r.csr -subj /CN=localhost',
			'openssl x509 -req -in r.csr -CA ca.pem -CAkey ca.key -set_serial 3' ..
				' -days 2 -extfile cnf -extensions srv_ext -out rsa.pem',
			'openssl ca -batch -config cnf -cert ca.pem -keyfile ca.key' ..
				' -in s.csr -out expired.pem -notext' ..
				' -startdate 20200101000000Z -enddate 20200102000000Z',
			'openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -set_serial 4' ..
				' -days 2 -extfile cnf -extensions other_ext -out other.pem',
			'openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -set_serial 6' ..
				' -days 2 -extfile cnf -extensions wild_ext -out wild.pem',
			'openssl req -x509 -config cnf -extensions srv_ext ' .. ec ..
				' -keyout self.key -out self.pem -days 2 -subj /CN=localhost',
			'openssl req -new -config cnf ' .. ec ..
				' -keyout client.key -out c.csr -subj "/CN=lem client"',
			'openssl x509 -req -in c.csr -CA ca.pem -CAkey ca.key -set_serial 5' ..
				' -days 2 -extfile cnf -extensions srv_ext -out client.pem',
			'openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256' ..
				' -out other.key',
		}, '\n') .. '\n'
		local out, err, st = tap.sh(script, config)
		assert(st == 0, 'tlsh.certs: openssl failed:\n' .. out .. err)
		local function f(name) return d .. '/' .. name end
		certs = {
			dir = d, ca = f 'ca.pem', ca_key = f 'ca.key',
			cert = f 'cert.pem', key = f 'key.pem', chain = f 'chain.pem',
			rsa_cert = f 'rsa.pem', rsa_key = f 'rsa.key',
			expired = f 'expired.pem', other = f 'other.pem',
			wild = f 'wild.pem',
			self = f 'self.pem', self_key = f 'self.key',
			client = f 'client.pem', client_key = f 'client.key',
			other_key = f 'other.key', ca2 = f 'ca2.pem',
		}
		return certs
	end

	-- A peer program, started with /bin/sh without blocking this lem:
	-- p.out reads its stdout and stderr together; p.pid is killed by
	-- tap.cleanup() if it still runs.  p:line(pattern[, seconds]) reads
	-- lines until one matches, returning the captures (nil on its end
	-- or on the deadline); p:rest([seconds]) what it still prints until
	-- it exits.
	function tlsh.spawn(cmd, stdin)
		local input = ' < /dev/null'
		if stdin then
			input = ' < ' .. tap.quote(tap.writefile(tap.tmpname('.in'), stdin))
		end
		local sh = 'echo $$; exec 2>&1; exec ' .. cmd .. input
		local out = assert(streams.popen('exec sh -c ' .. tap.quote(sh), 'r'))
		local pid = tonumber(out:read('*l'))
		tap.kill_at_end(pid)
		local p = { out = out, pid = pid, seen = {} }
		function p:line(pattern, seconds)
			return utils.timeout(seconds or 20 * tap.slow, function()
				while true do
					local l = self.out:read('*l')
					if not l then return nil end
					self.seen[#self.seen + 1] = l
					local c = { l:match(pattern) }
					if #c > 0 then return (table.unpack or unpack)(c) end
				end
			end)
		end
		function p:rest(seconds)
			local r = utils.timeout(seconds or 20 * tap.slow, function()
				return self.out:read('*a')
			end)
			return r
		end
		function p:output()
			return table.concat(self.seen, '\n')
		end
		function p:kill()
			tap.kill(self.pid)
		end
		return p
	end

	-- an in-process TLS echo server (line by line) on 127.0.0.1, run by
	-- autospawn in a coroutine of its own; returns the server and port
	function tlsh.echo_server(ctx)
		local srv = assert(tlsh.tls.listen('127.0.0.1', 0, ctx))
		local _, port = srv:address()
		utils.spawn(function()
			srv:autospawn(function(s)
				while true do
					local l = s:read('*l')
					if not l then break end
					if not s:write(l) then break end
				end
				if not s:closed() then s:close() end
			end)
		end)
		return srv, port
	end

	return tlsh
end
