import Testing
import XMPPServerKernel
@testable import XMPPServer

/// The pieces of federation that need no network: dialback keys (XEP-0185), `s2s_hosts`, the allow and deny lists.
@Suite struct FederationSettingsTests {
    @Test("a dialback key is stable for its domains and stream, and differs for any other")
    func dialbackKeys() {
        let secret = Array("s3cret".utf8)
        let key = Dialback.key(secret: secret, receiving: "b.example", originating: "a.example", streamID: "s1")
        #expect(key.count == 64 && key.allSatisfy(\.isHexDigit))
        #expect(Dialback.isValid(key, secret: secret, receiving: "b.example", originating: "a.example", streamID: "s1"))
        #expect(!Dialback.isValid(key, secret: secret, receiving: "b.example", originating: "a.example", streamID: "s2"))
        #expect(!Dialback.isValid(key, secret: secret, receiving: "c.example", originating: "a.example", streamID: "s1"))
        #expect(!Dialback.isValid(key, secret: secret, receiving: "a.example", originating: "b.example", streamID: "s1"))
        #expect(!Dialback.isValid(key, secret: Array("other".utf8), receiving: "b.example", originating: "a.example", streamID: "s1"))
    }

    @Test("s2s_hosts: exact domains, then the nearest listed parent; unparsable entries are left out")
    func hosts() {
        var configuration = KernelConfiguration(domain: "a.example")
        configuration.moduleSettings["s2s_hosts"] = "b.example=127.0.0.1:5270, v6.example=[::1]:5271, bad.example=nowhere, x=y:0"
        let settings = FederationSettings(configuration)
        #expect(settings.configuredAddress(of: "b.example")! == ("127.0.0.1", 5270))
        #expect(settings.configuredAddress(of: "conference.b.example")! == ("127.0.0.1", 5270))
        #expect(settings.configuredAddress(of: "v6.example")! == ("::1", 5271))
        #expect(settings.configuredAddress(of: "bad.example") == nil)
        #expect(settings.hosts.count == 2)
        #expect(FederationSettings.unparsableHosts("b.example=127.0.0.1:5270, bad.example=nowhere, x=y:0") == ["bad.example=nowhere", "x=y:0"])
    }

    @Test("never to itself; the deny list wins, subdomains included; a non-empty allow list is the only way out")
    func permits() {
        var configuration = KernelConfiguration(domain: "a.example")
        configuration.moduleSettings["s2s_deny"] = "spam.example"
        #expect(!FederationSettings(configuration).permits("a.example"))
        #expect(!FederationSettings(configuration).permits("spam.example"))
        #expect(!FederationSettings(configuration).permits("conference.spam.example"))
        #expect(FederationSettings(configuration).permits("notspam.example"))
        #expect(FederationSettings(configuration).permits("b.example"))
        configuration.moduleSettings["s2s_allow"] = "B.example, spam.example"
        #expect(FederationSettings(configuration).permits("b.example"))
        #expect(FederationSettings(configuration).permits("conference.b.example"))
        #expect(!FederationSettings(configuration).permits("c.example"))
        #expect(!FederationSettings(configuration).permits("spam.example"))
    }
}
