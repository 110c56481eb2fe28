import NIOCore
import Testing
@testable import XMPPCore

@Suite struct StanzaTests {
    @Test func messageViewReadsAndWrites() throws {
        var message = Message(type: .chat, to: try JID("Juliet@Example.com"), id: "m1", body: "Art thou not Romeo?")
        message.thread = "t1"
        message.subject = "balcony"
        #expect(message.element.attribute("to") == "juliet@example.com")
        #expect(message.type == .chat)
        #expect(message.body == "Art thou not Romeo?")
        message.body = nil
        #expect(message.body == nil)
        #expect(message.thread == "t1")
        message.type = .normal
        #expect(message.element.attribute("type") == nil, "normal is the default and is not written")
        #expect(Message(element: Element("message", namespace: XMLNamespace.client, attributes: ["type": "bogus"]))?.type == .normal)
        #expect(Message(element: Element("presence", namespace: XMLNamespace.client)) == nil)
    }

    @Test func presenceViewReadsAndWrites() {
        var presence = Presence()
        #expect(presence.type == .available)
        #expect(presence.element.attribute("type") == nil)
        presence.show = .dnd
        presence.status = "busy"
        presence.priority = 300
        #expect(presence.priority == 127, "priority is clamped to a signed byte")
        presence.priority = -1
        #expect(presence.priority == -1)
        #expect(presence.show == .dnd)
        presence.type = .unavailable
        #expect(presence.element.attribute("type") == "unavailable")
        #expect(Presence(element: Element("presence", namespace: XMLNamespace.client, attributes: ["type": "weird"]))?.type == nil)
    }

    @Test func iqResultAndErrorReplies() throws {
        var request = IQ(type: .get, to: try JID("example.com"), from: try JID("juliet@example.com/balcony"), id: "p1",
                         payload: Element("ping", namespace: "urn:xmpp:ping"))
        #expect(request.isValid)
        #expect(request.payload?.name == "ping")
        let result = request.result()
        #expect(result.type == .result)
        #expect(result.id == "p1")
        #expect(result.to == (try JID("juliet@example.com/balcony")))
        #expect(result.from == (try JID("example.com")))
        let errorReply = try #require(IQ(element: request.errorReply(StanzaError(.serviceUnavailable))))
        #expect(errorReply.type == .error)
        #expect(errorReply.error == StanzaError(.serviceUnavailable))
        #expect(errorReply.error?.type == .cancel)
        request.element.append(Element("extra", namespace: "urn:x"))
        #expect(!request.isValid, "a request carries exactly one payload")
    }

    @Test func stanzaErrorsRoundTripThroughXML() throws {
        let error = StanzaError(.gone, type: .cancel, text: "moved", language: "en", by: "example.com",
                                alternateAddress: "xmpp:romeo@example.net", applicationCondition: Element("custom", namespace: "urn:app"))
        let parsed = try #require(StanzaError(element: error.element()))
        #expect(parsed == error)
        let unknown = Element("error", namespace: XMLNamespace.client, children: [.element(Element("bogus", namespace: XMLNamespace.stanzaErrors))])
        #expect(StanzaError(element: unknown)?.condition == .undefinedCondition)
        for condition in StanzaError.Condition.allCases {
            #expect(StanzaError(element: StanzaError(condition).element())?.condition == condition)
        }
    }

    @Test func streamErrorsRoundTripAndUseTheStreamPrefix() throws {
        let error = StreamError(.seeOtherHost, text: "go there", otherHost: "[2001:db8::1]:5222")
        #expect(StreamError(element: error.element) == error)
        var buffer = ByteBuffer()
        StreamError(.hostUnknown).element.writeInStream(to: &buffer, contentNamespace: XMLNamespace.client)
        #expect(String(buffer: buffer) == "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>")
        for condition in StreamError.Condition.allCases {
            #expect(StreamError(element: StreamError(condition).element)?.condition == condition)
        }
    }

    @Test func dialbackElementsUseTheDbPrefixOnServerStreams() throws {
        var result = Element("result", namespace: XMLNamespace.dialback, attributes: ["from": "a.test", "to": "b.test", "type": "error"])
        result.append(Element("error", namespace: XMLNamespace.server, attributes: ["type": "cancel"]))
        var buffer = ByteBuffer()
        result.writeInStream(to: &buffer, contentNamespace: XMLNamespace.server)
        #expect(String(buffer: buffer) == "<db:result from='a.test' to='b.test' type='error'><error xmlns='jabber:server' type='cancel'/></db:result>")
        // Elsewhere (no db: prefix declared) it carries its namespace.
        buffer.clear()
        result.writeInStream(to: &buffer, contentNamespace: XMLNamespace.client)
        #expect(String(buffer: buffer).hasPrefix("<result xmlns='jabber:server:dialback'"))
        // The header declares the prefix.
        buffer.clear()
        StreamHeader(from: "a.test", to: "b.test", version: "1.0", contentNamespace: XMLNamespace.server).write(to: &buffer)
        #expect(String(buffer: buffer).contains("xmlns:db='jabber:server:dialback'"))
    }

    @Test func dataFormRoundTrip() throws {
        var form = DataForm(type: .form, formType: "http://jabber.org/protocol/muc#roomconfig", title: "Configure",
                            instructions: ["Fill in", "then submit"])
        form.fields.append(.init(variable: "muc#roomconfig_roomname", type: .textSingle, label: "Name", description: "The name",
                                 isRequired: true, values: ["Balcony"]))
        form.fields.append(.init(variable: "muc#roomconfig_maxusers", type: .listSingle, values: ["20"],
                                 options: [.init(label: "10", value: "10"), .init(value: "20")]))
        form.fields.append(.init(variable: "muc#roomconfig_persistentroom", type: .boolean, values: ["1"]))
        let parsed = try #require(DataForm(element: form.element))
        #expect(parsed == form)
        #expect(parsed.formType == "http://jabber.org/protocol/muc#roomconfig")
        #expect(parsed.field("muc#roomconfig_persistentroom")?.boolValue == true)
        var submit = DataForm(type: .submit)
        submit.setValues(["x"], for: "a")
        submit.setValues(["y"], for: "a")
        #expect(submit.value(of: "a") == "y")
        #expect(DataForm(element: Element("x", namespace: DataForm.namespace)) == nil, "a form needs a type")
    }

    @Test func dataFormResultWithItems() throws {
        var result = DataForm(type: .result)
        result.reported = [.init(variable: "jid", type: .jidSingle, label: "JID")]
        result.items = [[.init(variable: "jid", values: ["a@b"])], [.init(variable: "jid", values: ["c@d"])]]
        #expect(DataForm(element: result.element) == result)
    }
}
