import Testing
import XMPPClient
import XMPPCore

/// Two accounts that are contacts of each other both ways, online with capabilities in their presence: what PEP
/// needs before a contact hears of what the other publishes (XEP-0163 §4.3: notifications go to contacts whose
/// presence the account sees, and who asked through `+notify` in their capabilities).
struct ContactPair {
    let one: XMPPClient
    let two: XMPPClient
    let oneJID: JID
    let twoJID: JID

    /// Registers `names` on `fixture`, each client with a roster, presence and disco module plus what `setUp` adds,
    /// then subscribes them to each other and waits until each sees the other online.
    static func make(_ fixture: ClientFixture, _ names: (String, String), setUp: (XMPPClient) -> Void) async throws -> ContactPair {
        let (one, two) = (try fixture.client(names.0), try fixture.client(names.1))
        let (oneJID, twoJID) = (try fixture.jid(names.0), try fixture.jid(names.1))
        for client in [one, two] {
            client.add(DiscoModule())
            setUp(client)
        }
        let (oneRoster, twoRoster) = (one.add(RosterModule()), two.add(RosterModule()))
        let (onePresence, twoPresence) = (one.add(PresenceModule()), two.add(PresenceModule()))
        try await one.connect(registering: true)
        try await two.connect(registering: true)

        let requestsToTwo = twoRoster.subscriptionRequests
        try await oneRoster.subscribe(to: twoJID)
        #expect(await first(requestsToTwo, timeout: .seconds(20)) { $0.from == oneJID } != nil)
        let requestsToOne = oneRoster.subscriptionRequests
        try await twoRoster.approve(oneJID)
        try await twoRoster.subscribe(to: oneJID)
        #expect(await first(requestsToOne, timeout: .seconds(20)) { $0.from == twoJID } != nil)
        try await oneRoster.approve(twoJID)
        let befriended = await eventually(timeout: .seconds(20)) {
            oneRoster.item(for: twoJID)?.subscription == .both && twoRoster.item(for: oneJID)?.subscription == .both
                && onePresence.isAvailable(twoJID) && twoPresence.isAvailable(oneJID)
        }
        #expect(befriended, "the two accounts did not become contacts both ways")
        return ContactPair(one: one, two: two, oneJID: oneJID, twoJID: twoJID)
    }

    func disconnect() async {
        await one.disconnect()
        await two.disconnect()
    }
}

/// The items of a `.published` event, else nothing.
func publishedItems(_ event: PubSubEvent?) -> [PubSubItem] {
    if case .published(let items)? = event?.kind { return items }
    return []
}
