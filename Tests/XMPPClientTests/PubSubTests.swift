import Testing
import XMPPClient
import XMPPCore
import XMPPTestSupport

/// PubSubModule and PEPModule (XEP-0060, XEP-0163) against a real server: PEP notifications between contacts, a
/// pubsub service's node life cycle, and the typed errors of refusals.
@Suite("PubSub and PEP")
struct PubSubTests {
    static let mood = "urn:example:mood"

    @Test("PEP: a contact with +notify hears what is published; interest registered after login; precondition-not-met",
          arguments: ServerPeer.allCases)
    func pepNotifications(peer: ServerPeer) async throws { try await peer.run { fixture in
        let pair = try await ContactPair.make(fixture, ("alice", "bob")) { $0.add(PEPModule()) }
        let (alicePEP, bobPEP) = (try #require(pair.one.module(PEPModule.self)), try #require(pair.two.module(PEPModule.self)))

        // Bob asks for the node after login: the new capabilities go out in presence, and the server asks him.
        #expect(!bobPEP.discoFeatures.contains(PubSubNamespace.notifyFeature(Self.mood)))
        let moods = bobPEP.notifications(node: Self.mood)
        try await bobPEP.registerInterest(in: Self.mood)
        #expect(try #require(pair.two.module(DiscoModule.self)).ownInfo.features.contains(PubSubNamespace.notifyFeature(Self.mood)))
        let happy = Element("mood", namespace: Self.mood, text: "happy")
        let id = try await alicePEP.publish(happy, to: Self.mood, itemID: "current")
        #expect(id == "current")
        let heard = await first(moods, timeout: .seconds(20)) { event in publishedItems(event).contains { $0.payload == happy } }
        #expect(heard?.service == pair.oneJID, "bob hears alice's mood from her bare JID: \(String(describing: heard))")
        #expect(publishedItems(heard).first?.id == "current")

        // Bob reads her node too; his own has nothing.
        #expect(try await bobPEP.items(of: Self.mood, from: pair.oneJID).map(\.payload) == [happy])

        // The node was created open to contacts (presence, the PEP default); a publish demanding a whitelist is refused.
        await #expect {
            try await alicePEP.publish(happy, to: Self.mood, publishOptions: ["pubsub#access_model": "whitelist"])
        } throws: { ($0 as? PubSubError)?.reason == .preconditionNotMet }

        // A retraction reaches bob as such.
        let retractions = bobPEP.notifications(node: Self.mood)
        try await alicePEP.retract(["current"], from: Self.mood)
        let retracted = await first(retractions, timeout: .seconds(20)) { $0.kind == .retracted(["current"]) }
        #expect(retracted?.service == pair.oneJID)
        await pair.disconnect()
    } }

    @Test("pubsub service: create, conflict, subscribe, publish notifies, items, forbidden delete, delete notifies, item-not-found",
          arguments: ServerPeer.allCases)
    func pubsubService(peer: ServerPeer) async throws { try await peer.run { fixture in
        let service = try JID("pubsub.localhost")
        let admin = try fixture.client("admin")
        let owner = admin.add(PubSubModule())
        try await admin.connect(registering: true)
        let bob = try fixture.client("bob")
        let reader = bob.add(PubSubModule())
        try await bob.connect(registering: true)

        let node = try await owner.create(node: "news", on: service, configuration: ["pubsub#access_model": "open", "pubsub#max_items": "10"])
        #expect(node == "news")
        await #expect { try await owner.create(node: "news", on: service) } throws: { ($0 as? PubSubError)?.reason == .conflict }
        let form = try await owner.configuration(of: "news", on: service)
        #expect(form.value(of: "pubsub#access_model") == "open", "\(form)")
        #expect(try await owner.affiliations(of: "news", on: service).contains { $0.role == .owner && $0.jid == (try? fixture.jid("admin")) })

        let events = reader.events
        let subscription = try await reader.subscribe(to: "news", on: service)
        let bobJID = try fixture.jid("bob")
        #expect(subscription.state == .subscribed && subscription.jid == bobJID)
        #expect(try await reader.subscriptions(on: service).contains { $0.node == "news" })
        #expect(try await owner.subscribers(of: "news", on: service).contains { $0.jid == (try? fixture.jid("bob")) })

        let entry = Element("entry", namespace: "urn:example:news", text: "pubsub works")
        let id = try await owner.publish(entry, to: "news", on: service)
        #expect(!id.isEmpty)
        let notified = await first(events, timeout: .seconds(20)) { $0.node == "news" && !publishedItems($0).isEmpty }
        #expect(notified?.service == service)
        #expect(publishedItems(notified).first?.id == id && publishedItems(notified).first?.payload == entry, "\(String(describing: notified))")
        #expect(try await reader.items(of: "news", on: service, max: 5).map(\.id) == [id])
        #expect(try await reader.items(of: "news", on: service, ids: [id]).first?.payload == entry)

        // Configuration, affiliations, purge and unsubscribe.
        try await owner.configure(node: "news", on: service, values: ["pubsub#max_items": "5"])
        #expect(try await owner.configuration(of: "news", on: service).value(of: "pubsub#max_items") == "5")
        await #expect { try await reader.publish(entry, to: "news", on: service) } throws: { ($0 as? PubSubError)?.reason == .forbidden }
        try await owner.setAffiliations([bobJID: .publisher], of: "news", on: service)
        #expect(try await owner.affiliations(of: "news", on: service).contains { $0.jid == bobJID && $0.role == .publisher })
        #expect(try await !reader.publish(entry, to: "news", on: service, itemID: "by-bob").isEmpty)
        let purges = reader.events
        try await owner.purge(node: "news", on: service)
        #expect(await first(purges, timeout: .seconds(20)) { $0.node == "news" && $0.kind == .purged } != nil)
        #expect(try await reader.items(of: "news", on: service).isEmpty)
        try await reader.unsubscribe(from: "news", on: service)
        #expect(try await !reader.subscriptions(on: service).contains { $0.node == "news" && $0.state == .subscribed })
        try await reader.subscribe(to: "news", on: service)

        // Only the owner deletes; the subscriber hears of it; the node is gone.
        await #expect { try await reader.delete(node: "news", on: service) } throws: { ($0 as? PubSubError)?.reason == .forbidden }
        let deletions = reader.events
        try await owner.delete(node: "news", on: service)
        #expect(await first(deletions, timeout: .seconds(20)) { $0.node == "news" && $0.kind == .deleted(redirect: nil) } != nil)
        await #expect { try await reader.items(of: "news", on: service) } throws: { ($0 as? PubSubError)?.reason == .itemNotFound }
        await admin.disconnect()
        await bob.disconnect()
    } }
}
