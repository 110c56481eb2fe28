import Foundation
import Testing
import XMPPCore
@testable import XMPPServerKernel
import XMPPKernelTestSupport

/// In-band registration, vCard, disco, last activity: the account-level modules on the kernel.
@Suite struct AccountModuleTests {
    @Test func registrationFollowsThePolicyAndTheLimit() async throws {
        let closed = try KernelScenario()
        let request = "<iq xmlns='jabber:client' type='set' id='r'><query xmlns='jabber:iq:register'><username>Zoe</username><password>pw</password></query></iq>"
        let refused = await closed.kernel.handlePreAuthenticationIQ(try Element(xml: request), remoteAddress: "10.0.0.1")
        #expect(IQ(element: refused)?.error?.condition == .serviceUnavailable)

        let limited = try KernelScenario { $0.registration = .limited(count: 1, seconds: 3600) }
        let first = await limited.kernel.handlePreAuthenticationIQ(try Element(xml: request), remoteAddress: "10.0.0.1")
        #expect(first.attribute("type") == "result")
        #expect(try await limited.kernel.storage.accounts.accountExists("zoe"), "the username is normalized")
        let again = await limited.kernel.handlePreAuthenticationIQ(try Element(xml: request.replacingOccurrences(of: "Zoe", with: "yan")), remoteAddress: "10.0.0.1")
        #expect(IQ(element: again)?.error?.condition == .policyViolation)
        let taken = await limited.kernel.handlePreAuthenticationIQ(try Element(xml: request), remoteAddress: "10.0.0.2")
        #expect(IQ(element: taken)?.error?.condition == .conflict)
    }

    @Test func cancellingAnAccountRemovesItsDataAndEndsItsSessions() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")
        try await PresenceAndRosterTests.befriend(alice, bob)
        try await alice.send("<iq xmlns='jabber:client' type='set' id='v'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>")
        _ = bob.received()
        try await alice.send("<iq xmlns='jabber:client' type='set' id='bye'><query xmlns='jabber:iq:register'><remove/></query></iq>")
        // The contact sees the account go and loses the subscription both ways: nobody who registers the name
        // again inherits it.
        let told = bob.received("presence").filter { $0.attribute("from")?.hasPrefix("alice@example.com") == true }
        #expect(told.contains { $0.attribute("type") == "unavailable" })
        #expect(told.contains { $0.attribute("type") == "unsubscribe" } && told.contains { $0.attribute("type") == "unsubscribed" })
        let bobsItem = try await PresenceAndRosterTests.item(scenario.kernel, "bob", "alice@example.com")
        #expect(bobsItem?.subscription == RosterItem.Subscription.none)
        #expect(alice.received("iq").contains { $0.attribute("id") == "bye" && $0.attribute("type") == "result" })
        #expect(alice.session.closedWith != nil)
        let kernel = scenario.kernel
        #expect(try await kernel.storage.accounts.accountExists("alice") == false)
        #expect(try await kernel.storage.rosters.roster(of: "alice").items.isEmpty)
        #expect(try await kernel.storage.userData.value("vcard", of: "alice") == nil)
    }

    @Test func vCardIsReadableByAllWritableByTheOwnerAndBounded() async throws {
        let scenario = try KernelScenario { $0.set(VCardModule.maxBytes, to: 256) }
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")
        try await alice.send("<iq xmlns='jabber:client' type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>")
        #expect(alice.received("iq").last?.attribute("type") == "result")
        try await bob.send("<iq xmlns='jabber:client' type='get' id='v2' to='alice@example.com'><vCard xmlns='vcard-temp'/></iq>")
        let card = try #require(bob.received("iq").first?.child("vCard", namespace: "vcard-temp"))
        #expect(card.child("FN", namespace: "vcard-temp")?.text == "Alice")
        try await bob.send("<iq xmlns='jabber:client' type='set' id='v3' to='alice@example.com'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>")
        #expect(bob.received("iq").first.flatMap { IQ(element: $0)?.error?.condition } == .forbidden)
        let big = String(repeating: "x", count: 300)
        try await alice.send("<iq xmlns='jabber:client' type='set' id='v4'><vCard xmlns='vcard-temp'><DESC>\(big)</DESC></vCard></iq>")
        #expect(alice.received("iq").first.flatMap { IQ(element: $0)?.error?.condition } == .notAcceptable)
    }

    @Test func discoLastActivityAndCapabilities() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        _ = alice.received()
        try await alice.send("<iq xmlns='jabber:client' type='get' id='d' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        let info = try #require(alice.received("iq").first?.child("query", namespace: DiscoModule.infoNamespace))
        let features = Set(info.children("feature").compactMap { $0.attribute("var") })
        #expect(features.isSuperset(of: ["urn:xmpp:ping", "vcard-temp", "jabber:iq:version", "urn:xmpp:time", "jabber:iq:last", "msgoffline"]))
        #expect(info.child("identity")?.attribute("category") == "server")
        #expect(scenario.kernel.postAuthenticationFeatures.contains { $0.name == "c" && $0.attribute("ver") == DiscoModule.capsVerification(features: scenario.kernel.serverFeatures) })

        // Last activity of another account is for subscribers only.
        try await alice.send("<iq xmlns='jabber:client' type='get' id='l' to='bob@example.com'><query xmlns='jabber:iq:last'/></iq>")
        #expect(alice.received("iq").first.flatMap { IQ(element: $0)?.error?.condition } == .forbidden)
        try await alice.send("<iq xmlns='jabber:client' type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
        #expect(alice.received("iq").first?.attribute("type") == "result")
    }

    @Test func capsVerificationMatchesXEP0115Example() {
        // XEP-0115 §5.2's simple example uses a client identity; the algorithm is the same for ours.
        #expect(DiscoModule.capsVerification(features: []).count == 28)
    }
}
