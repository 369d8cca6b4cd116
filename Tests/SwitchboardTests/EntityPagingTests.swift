import Switchboard
import Testing

/// The one paging implementation: the Shell's NEXT/PREV/FIRST/LAST/ALL and the links of a response.
@Suite(.timeLimit(.minutes(1)))
struct EntityPagingTests {
    let api = SwitchboardAPI()

    init() throws {
        api.register(resource: try InMemoryEntityStore<Hero>(name: "Tests.Hero", initial: Hero.seed))
    }

    func query(_ uri: String) throws -> EntityQuery {
        let resolved = try api.resolve(uri)
        return try #require(resolved.entityQuery)
    }

    /// `offset` and `limit` of a page, as its canonical URI says them.
    func window(_ page: EntityQuery?) -> String? {
        guard let page else { return nil }
        return "offset=\(page.offset) limit=\(page.limit.map(String.init) ?? "none")"
    }

    /// The canonical form is made once for a query and its unchanged copies; a changed copy says its own.
    @Test func aChangedCopySaysItsOwnCanonicalForm() throws {
        let page = try query("/hero/name=Batman/limit=2")
        #expect(page.canonical == "/Tests.Hero/Name=Batman/limit=2")
        var copy = page
        #expect(copy.canonical == page.canonical)
        copy.limit = 5
        #expect(copy.canonical == "/Tests.Hero/Name=Batman/limit=5")
        copy.conditions.removeAll()
        #expect(copy.canonical == "/Tests.Hero/_/limit=5")
        copy.distinct = true
        #expect(copy.canonical == "/Tests.Hero/_/limit=5&distinct=true")
        #expect(page.canonical == "/Tests.Hero/Name=Batman/limit=2", "the original keeps its own")
        #expect(page.nextPage()?.canonical == "/Tests.Hero/Name=Batman/limit=2&offset=2")
    }

    /// A page HTTP asks for printed (the envelope written straight from the rows) is, byte for byte, the JSON
    /// body printed: first, middle, last and empty pages, projections, the last rows, the raw form.
    @Test func aPrintedPageIsTheJSONBodyPrinted() async throws {
        let elapsed = /"TimeElapsedMs": [0-9.e-]+/
        let uris = [
            "/hero", "/hero//limit=2", "/hero//limit=2&offset=2", "/hero//limit=2&offset=6", "/hero/name=Nobody",
            "/hero//select=name,home.city&limit=3&offset=1", "/hero//offset=-2&rename=name->Hero", "/hero//distinct=true&select=year",
        ]
        for uri in uris {
            for accept in ["application/json", "application/json; raw=true"] {
                let asValue = await api.execute(RESTRequest(method: .GET, uri: uri, headers: [.accept: accept]))
                var request = RESTRequest(method: .GET, uri: uri, headers: [.accept: accept])
                request.wantsPrintedBody = true
                let printed = await api.execute(request)
                #expect(asValue.status == 200 && printed.status == 200, "\(uri)")
                #expect(accept.contains("raw") ? printed.printedBody == nil : printed.body == nil && printed.printedBody != nil, "\(uri)")
                let expected = try #require(asValue.bodyText).replacing(elapsed, with: "")
                #expect(try #require(printed.bodyText).replacing(elapsed, with: "") == expected, "\(uri) (\(accept))")
                #expect(printed.headers[.contentType] == "application/json; charset=utf-8")
            }
        }
    }

    /// A query's page links are made once for it and its unchanged copies (the Shell runs its location again
    /// and again); a changed copy links its own pages.
    @Test func aChangedCopyLinksItsOwnPages() async throws {
        var page = try query("/hero//limit=2")
        for offset in [0, 2, 4, 0] {
            page.offset = offset
            for _ in 0..<2 {
                let response = await api.execute(RESTRequest(method: .GET, query: page))
                guard case .object(let body)? = response.body else {
                    Issue.record("offset \(offset): \(response.statusLine)")
                    return
                }
                let next = if case .string(let link)? = body["NextPage"] { link } else { String?.none }
                let previous = if case .string(let link)? = body["PreviousPage"] { link } else { String?.none }
                #expect(next == page.nextPage()?.canonical, "offset \(offset)")
                #expect(previous == page.previousPage()?.canonical, "offset \(offset)")
                #expect(next == "/Tests.Hero/_/limit=2&offset=\(offset + 2)")
            }
        }
    }

    @Test func nextMovesByTheLimitAndTakesANewSize() throws {
        let page = try query("/hero//limit=2&offset=4")
        #expect(window(page.nextPage()) == "offset=6 limit=2")
        #expect(window(page.nextPage(size: 3)) == "offset=6 limit=3")
        // No limit yet: paging starts where the query starts.
        #expect(window(try query("/hero//offset=1").nextPage(size: 2)) == "offset=1 limit=2")
        #expect(try query("/hero").nextPage() == nil, "no page size")
        #expect(try query("/hero//limit=0").nextPage() == nil)
    }

    @Test func previousNeverOverlapsAndStopsAtTheFirstPage() throws {
        #expect(window(try query("/hero//limit=2&offset=4").previousPage()) == "offset=2 limit=2")
        // Fewer before than a page: only those, not a page that repeats this one's first entities.
        #expect(window(try query("/hero//limit=10&offset=3").previousPage()) == "offset=0 limit=3")
        #expect(window(try query("/hero//offset=3").previousPage()) == "offset=0 limit=3")
        #expect(window(try query("/hero//limit=2&offset=4").previousPage(size: 3)) == "offset=1 limit=3")
        #expect(try query("/hero//limit=2").previousPage() == nil)
        #expect(try query("/hero//limit=2&offset=-2").previousPage() == nil)
    }

    @Test func pagesCountingFromTheEndMoveTowardsIt() throws {
        let last = try query("/hero").lastPage(size: 2)
        #expect(window(last) == "offset=-2 limit=2")
        #expect(last.nextPage() == nil, "the last page has no next")
        #expect(window(try query("/hero//limit=2&offset=-6").nextPage()) == "offset=-4 limit=2")
    }

    @Test func firstAndAllReset() throws {
        let page = try query("/hero/year>1950/limit=2&offset=4&order_asc=name")
        #expect(window(page.firstPage(size: 3)) == "offset=0 limit=3")
        #expect(window(page.allEntities) == "offset=0 limit=none")
        #expect(page.allEntities.canonical == "/Tests.Hero/Year>1950/order_asc=Name", "conditions and order stay")
    }

    /// The links of a response walk the same pages as the methods, and the last full page has no next.
    @Test func responseLinksFollowTheSamePages() async throws {
        var uri: String? = "/hero//limit=4&order_asc=name"
        var seen: [String] = []
        while let next = uri {
            let response = await api.execute(RESTRequest(method: .GET, uri: next))
            guard case .object(let body)? = response.body, case .array(let rows)? = body["Data"] else {
                Issue.record("GET \(next): \(response.statusLine)")
                return
            }
            seen += rows.compactMap { if case .object(let row) = $0, case .string(let name)? = row["Name"] { name } else { nil } }
            #expect(body["NextPage"].map { _ in true } ?? false == (rows.count == 4), "a next link exactly when the page came back full")
            if case .string(let link)? = body["NextPage"] {
                #expect(link == (try query(next)).nextPage()?.canonical)
                let following = await api.execute(RESTRequest(method: .GET, uri: link))
                if case .object(let followingBody)? = following.body, case .string(let back)? = followingBody["PreviousPage"] {
                    #expect(back == (try query(link)).previousPage()?.canonical)
                } else {
                    Issue.record("GET \(link) has no PreviousPage: \(following.statusLine)")
                }
                uri = link
            } else {
                uri = nil
            }
        }
        #expect(seen == Hero.seed.map(\.name).sorted())
    }

    /// A request built from a resolved query runs that query, and the URI is its canonical form.
    @Test func requestsFromAResolvedQuery() async throws {
        let page = try query("/hero/year<1950/order_desc=year").firstPage(size: 2)
        let request = RESTRequest(method: .GET, query: page)
        #expect(request.uri == "/Tests.Hero/Year<1950/limit=2&order_desc=Year")
        #expect(try await api.namesReturned(by: request) == ["Wonder Woman", "Batman"])
    }
}

extension SwitchboardAPI {
    fileprivate func namesReturned(by request: RESTRequest) async throws -> [String] {
        let response = await execute(request)
        guard case .object(let body)? = response.body, case .array(let rows)? = body["Data"] else {
            throw QueryTestFailure(response.statusLine)
        }
        return rows.compactMap { if case .object(let row) = $0, case .string(let name)? = row["Name"] { name } else { nil } }
    }
}
