-- mod_test_s2s_hosts: answers Prosody's server-to-server lookups (SRV "xmpp-server", then the domain's address) for
-- the domains in the option test_s2s_hosts, and their subdomains, with a loopback port instead of asking DNS:
--   test_s2s_hosts = { ["alpha.test"] = 15269 }
-- SwiftXMPP's tests (Tests/XMPPTestSupport/ProsodyServer.swift) and benchmarks/federation.sh load it. It replaces
-- the service resolver that mod_s2s calls; direct TLS ("xmpps-server") is skipped for those domains.
local manual = require "net.resolvers.manual";
local service = require "net.resolvers.service";
local hosts = module:get_option("test_s2s_hosts", {});
local original = service.new;

local function lookup(hostname)
  while hostname do
    if hosts[hostname] then return hosts[hostname]; end
    hostname = hostname:match("^[^.]+%.(.+)$");
  end
end

service.new = function (hostname, service_name, conn_type, extra)
  local port = lookup(hostname);
  if port and service_name == "xmpp-server" then
    return manual.new({ { "tcp4", "127.0.0.1", port, extra } }, conn_type, extra);
  elseif port and service_name == "xmpps-server" then
    return manual.new({}, conn_type, extra);
  end
  return original(hostname, service_name, conn_type, extra);
end
