-- Prosody: hand the subdomain gw.example.org to Waggle's XMPP component.
-- Put this in prosody.cfg.lua (or a file under conf.d/) and reload Prosody.
-- Waggle's side, in waggle.toml:
--   [component]
--   domain = "gw.example.org"
--   server = "127.0.0.1:5347"
--   secret_file = "/etc/waggle/component.secret"   -- the same secret as below

-- The port components connect to. The component protocol is not encrypted:
-- keep it on loopback (Waggle and Prosody on the same host).
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }

Component "gw.example.org"
    component_secret = "change me: a long random string"

-- For users on other XMPP servers: gw.example.org needs DNS (an SRV record
-- _xmpp-server._tcp.gw.example.org pointing at this server, or an A/AAAA
-- record) and Prosody needs a certificate valid for gw.example.org (for
-- example as a name of the certificate of example.org); see docs/component.md.
