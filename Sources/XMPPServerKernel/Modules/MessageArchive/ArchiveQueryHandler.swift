import Foundation
import XMPPCore

/// Answers `<query xmlns='urn:xmpp:mam:2'/>` (XEP-0313 §4): the search form for a `get`; for a `set`, one
/// `<message><result/></message>` per entry of the page, sent to the asker before the IQ result that carries
/// `<fin/>` with the page's bounds (XEP-0059) and whether it reaches the end of the results. Used for accounts'
/// archives and by the chat service for rooms'.
public enum ArchiveQueryHandler {
    static let namespace = MessageArchiveModule.namespace

    /// The fields a query form may carry.
    static let fields = ["FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"]

    static func answer(_ request: IQRequest, archive: String, maxPage: Int) async throws -> IQReply {
        let session = request.session
        let payload = try await answer(request.payload, isSet: request.iq.type == .set, archive: archive, in: request.kernel.storage.archives,
                                       maxPage: maxPage, requester: request.from, resultsFrom: nil) { session?.deliver($0) }
        return IQReply(payload)
    }

    /// The answer's payload to a query on `archive` (the form for a `get`, `<fin/>` for a `set`), after handing each
    /// result message (to `requester`, from `resultsFrom`) to `deliver`. Throws the stanza error to answer with.
    public static func answer(_ payload: Element, isSet: Bool, archive: String, in store: any ArchiveStore, maxPage: Int,
                              requester: JID, resultsFrom: JID?, deliver: (Element) -> Void) async throws -> Element {
        guard isSet else { return searchForm }
        var query = try parse(payload, maxPage: maxPage)
        if query.max > maxPage { query.max = maxPage }
        let page: ArchivePage
        do {
            page = try await store.query(query, in: archive)
        } catch let error as ArchiveQueryError {
            guard case .unknownID(let id) = error else { throw error }
            throw StanzaError(.itemNotFound, text: "no archived message with id \(id)")
        }
        let queryID = payload.attribute("queryid")
        for item in page.items {
            var message = resultMessage(for: item, queryID: queryID, to: requester)
            if let resultsFrom { message.setAttribute("from", to: resultsFrom.description) }
            deliver(message)
        }
        var fin = Element("fin", namespace: namespace)
        if page.isComplete { fin.setAttribute("complete", to: "true") }
        let set = ResultSetPage(first: page.items.first?.id, last: page.items.last?.id, count: page.count)
        fin.append(set.element)
        return fin
    }

    /// Reads the form and the paging request into an archive query.
    static func parse(_ payload: Element, maxPage: Int) throws(StanzaError) -> ArchiveQuery {
        var query = ArchiveQuery(max: maxPage)
        if let formElement = payload.child("x", namespace: DataForm.namespace) {
            guard let form = DataForm(element: formElement) else { throw StanzaError(.badRequest, text: "malformed form") }
            if let type = form.formType, type != namespace { throw StanzaError(.badRequest, text: "FORM_TYPE must be \(namespace)") }
            for field in form.fields {
                guard let variable = field.variable, fields.contains(variable) else {
                    throw StanzaError(.badRequest, text: "unknown field \(field.variable ?? "")")
                }
            }
            if let raw = form.value(of: "with"), !raw.isEmpty {
                guard let with = JID(validating: raw) else { throw StanzaError(.badRequest, text: "with is not a JID") }
                query.with = with
            }
            query.start = try date(form.value(of: "start"), "start")
            query.end = try date(form.value(of: "end"), "end")
            query.after = form.value(of: "after-id").flatMap { $0.isEmpty ? nil : $0 }
            query.before = form.value(of: "before-id").flatMap { $0.isEmpty ? nil : $0 }
            if let ids = form.field("ids")?.values, !ids.isEmpty {
                guard ids.count <= maxPage else { throw StanzaError(.policyViolation, text: "at most \(maxPage) ids at once") }
                query.ids = ids
            }
        }
        if let setElement = payload.child("set", namespace: ResultSetPage.namespace) {
            guard let set = ResultSetPage(element: setElement) else { throw StanzaError(.badRequest, text: "malformed result set") }
            if set.index != nil { throw StanzaError(.featureNotImplemented, text: "paging by index is not supported") }
            if let max = set.max { query.max = max }
            if let after = set.after { query.after = after }
            if let before = set.before { query.before = before }
        }
        return query
    }

    private static func date(_ raw: String?, _ name: String) throws(StanzaError) -> Date? {
        guard let raw, !raw.isEmpty else { return nil }
        guard let date = Delay.parse(raw) else { throw StanzaError(.badRequest, text: "\(name) is not an XEP-0082 date-time") }
        return date
    }

    /// One archived message as a query result (§4.2): forwarded with the time it was archived.
    static func resultMessage(for item: ArchivedStanza, queryID: String?, to requester: JID) -> Element {
        var result = Element("result", namespace: namespace, attributes: ["id": item.id])
        result.setAttribute("queryid", to: queryID)
        result.append(Forwarded(stanza: item.element, delay: Delay(stamp: item.timestamp)).element)
        var message = Element("message", namespace: XMLNamespace.client, attributes: ["to": requester.description, "id": StanzaID.make()])
        message.append(result)
        return message
    }

    /// The search form a `get` returns (§4.1.1).
    static var searchForm: Element {
        var form = DataForm(type: .form, formType: namespace)
        form.fields += [
            .init(variable: "with", type: .jidSingle), .init(variable: "start", type: .textSingle),
            .init(variable: "end", type: .textSingle), .init(variable: "before-id", type: .textSingle),
            .init(variable: "after-id", type: .textSingle), .init(variable: "ids", type: .listMulti),
        ]
        return Element("query", namespace: namespace, children: [.element(form.element)])
    }
}
