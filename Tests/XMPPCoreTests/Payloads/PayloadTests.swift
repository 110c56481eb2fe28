import Foundation
import Testing
import XMPPCore

/// The payload types client and server share: each reads what it writes, and reads the specs' examples.
@Suite struct PayloadTests {
    @Test func capsVerificationMatchesXEP0115SimpleExample() {
        // XEP-0115 §5.2.
        let identities = [DiscoIdentity(category: "client", type: "pc", name: "Exodus 0.9.1")]
        let features = ["http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info",
                        "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc"]
        #expect(EntityCapabilities.verification(identities: identities, features: features.reversed()) == "QgayPKawpkPSDYmwT/WM94uAlu0=")
    }

    @Test func capsVerificationMatchesXEP0115ComplexExampleWithAForm() {
        // XEP-0115 §5.3: two identities in two languages, and an extended information form (XEP-0128).
        let identities = [DiscoIdentity(category: "client", type: "pc", name: "Psi 0.11", language: "en"),
                          DiscoIdentity(category: "client", type: "pc", name: "Ψ 0.11", language: "el")]
        let features = ["http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info",
                        "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc"]
        var form = DataForm(type: .result)
        form.setValues(["urn:xmpp:dataforms:softwareinfo"], for: "FORM_TYPE", type: .hidden)
        form.setValues(["ipv6", "ipv4"], for: "ip_version")
        form.setValues(["Mac"], for: "os")
        form.setValues(["10.5.1"], for: "os_version")
        form.setValues(["Psi"], for: "software")
        form.setValues(["0.11"], for: "software_version")
        #expect(EntityCapabilities.verification(identities: identities, features: features, forms: [form]) == "q07IKJEyjvHSyhy//CH0CxmKi8w=")
    }

    @Test func capsSortsFieldByFieldAndOctetByOctet() {
        // "a-b" sorts after "a" as a category, even though "a-b/..." sorts before "a/..." as a whole string.
        let one = EntityCapabilities.verification(identities: [DiscoIdentity(category: "a", type: "x"), DiscoIdentity(category: "a-b", type: "x")], features: ["B", "a"])
        let other = EntityCapabilities.verification(identities: [DiscoIdentity(category: "a-b", type: "x"), DiscoIdentity(category: "a", type: "x")], features: ["a", "B"])
        #expect(one == other)
        // Octet order puts upper case first ("B" < "a"), unlike a locale-aware sort.
        let expected = Array("a/x//<a-b/x//<B<a<".utf8)
        #expect(one == Base64.encode(SCRAMHash.sha1.hash(expected)))
    }

    @Test func delayReadsWhatItWritesAndFractionalStamps() throws {
        let delay = Delay(stamp: Date(timeIntervalSince1970: 1_700_000_000), from: try JID("example.com"), reason: "Offline Storage")
        #expect(Delay(element: delay.element) == delay)
        let fractional = try Element(xml: "<delay xmlns='urn:xmpp:delay' stamp='2002-09-10T23:08:25.123Z'/>")
        #expect(Delay(element: fractional)?.stamp.timeIntervalSince1970.rounded() == 1_031_699_305)
        #expect(Delay(element: try Element(xml: "<delay xmlns='urn:xmpp:delay' stamp='yesterday'/>")) == nil)
    }

    @Test func stanzaIDsAreTrustedOnlyFromTheirAssigner() throws {
        let room = try JID("tea@conference.example.com")
        var message = Message(type: .groupchat, body: "hi").element
        message.append(StanzaIdentifier(id: "forged", by: try JID("mallory@example.com")).element)
        message.append(StanzaIdentifier(id: "real", by: room).element)
        message.append(StanzaIdentifier(id: "mine").element)
        #expect(StanzaIdentifier.stanzaID(in: message, by: room)?.id == "real")
        #expect(StanzaIdentifier.originID(in: message)?.id == "mine")
    }

    @Test func forwardedKeepsTheStanzaAndItsDelay() throws {
        let original = Message(type: .chat, to: try JID("juliet@example.com"), body: "wherefore").element
        let forwarded = Forwarded(stanza: original, delay: Delay(stamp: Date(timeIntervalSince1970: 0)))
        #expect(Forwarded(element: forwarded.element) == forwarded)
        #expect(Forwarded(element: Element("forwarded", namespace: Forwarded.namespace)) == nil, "no stanza inside")
    }

    @Test func resultSetPagesRoundTripAndRejectNegativeNumbers() throws {
        let answer = ResultSetPage(first: "a1", firstIndex: 10, last: "a9", count: 800)
        #expect(ResultSetPage(element: answer.element) == answer)
        let lastPage = ResultSetPage(max: 20, before: "")
        #expect(ResultSetPage(element: lastPage.element) == lastPage, "an empty <before/> asks for the last page")
        #expect(ResultSetPage(element: try Element(xml: "<set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set>")) == nil)
    }

    @Test func rosterItemsReadResultsAndWriteSets() throws {
        let pushed = try Element(xml: "<item xmlns='jabber:iq:roster' jid='Romeo@Example.net/x' name='Romeo' subscription='to' ask='subscribe' approved='true'><group>Friends</group><group/></item>")
        let item = try #require(RosterItem(element: pushed))
        #expect(item.jid.description == "romeo@example.net" && item.subscription == .to && item.isPendingOut && item.isApproved)
        #expect(item.groups == ["Friends"], "empty groups are dropped")
        #expect(RosterItem(element: item.element) == item)
        #expect(item.setElement.attribute("subscription") == nil && item.setElement.attribute("ask") == nil, "clients never send those")
        #expect(RosterItem(element: RosterItem.removalElement(for: item.jid)) == nil && RosterItem.isRemoval(RosterItem.removalElement(for: item.jid)))
    }

    @Test func mucAffiliationsAndRolesAreOrdered() {
        #expect(MUCAffiliation.outcast < .none && MUCAffiliation.none < .member && MUCAffiliation.admin < .owner)
        #expect(MUCRole.visitor < .participant && MUCRole.participant < .moderator)
    }
}
