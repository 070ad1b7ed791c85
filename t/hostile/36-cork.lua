-- needs: lem.streams
-- 36. cork/uncork on a popen stream or a closed stream: nil,msg or
-- nil,'closed'.
local h = require 'h'
local streams = require 'lem.streams'

local p = assert(streams.popen('cat > /dev/null', 'w'))
local a, b = p:cork()
h.ok(a == nil and type(b) == 'string', 'cork on a popen stream: nil, msg', tostring(b))
a, b = p:uncork()
h.ok(a == nil and type(b) == 'string', 'uncork on a popen stream: nil, msg', tostring(b))
p:close()
a, b = p:cork()
h.same({ a, b }, { nil, 'closed' }, "cork on a closed stream: 'closed'")
a, b = p:uncork()
h.same({ a, b }, { nil, 'closed' }, "uncork on a closed stream: 'closed'")
h.done()
