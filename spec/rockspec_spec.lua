-- spec/rockspec_spec.lua: `luarocks make` builds and installs corio into a
-- tree, and the installed module works from another directory.
local S = require "spec.support"

describe("rockspec", function()
  it("luarocks make installs a working corio", function()
    local ok0 = S.sh("command -v luarocks")
    assert(ok0, "luarocks is not installed (make deps installs it)")
    local tree = os.tmpname()
    os.remove(tree)
    local ok, out = S.sh("luarocks --lua-version=5.4 make --tree=" .. tree ..
      " rockspec/corio-scm-1.rockspec && make -s module >/dev/null")
    assert.is_true(ok, out)
    local ok2, out2 = S.sh("cd / && LUA_PATH='" .. tree .. "/share/lua/5.4/?.lua;" .. tree ..
      "/share/lua/5.4/?/init.lua' LUA_CPATH='" .. tree .. "/lib/lua/5.4/?.so' lua5.4 -e '" ..
      "local c = require \"corio\"; print(c.run(function() c.sleep(0.001); return \"installed ok\" end))'")
    S.sh("rm -rf " .. tree)
    assert.is_true(ok2, out2)
    assert.matches("installed ok", out2)
  end)
end)
