-- t/hostile/matrix_extra.lua - the lem.streams part of the type matrix
-- (case 1); empty while lem.streams is not built.
local M = { values = {}, targets = {}, wrongself = {}, across = {}, wrap = {},
	release = function() end }
return M
