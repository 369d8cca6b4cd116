/// Paging: the one implementation behind the `PreviousPage` and `NextPage` links of a response and the
/// Shell's `NEXT`, `PREV`, `FIRST`, `LAST` and `ALL`.
///
/// A page is the query's `offset` and `limit`. A negative offset counts from the end (`LAST`), so the page
/// after one counts towards the end until it reaches it.
extension EntityQuery {
    /// The page after this one: `size` entities (default: this page's limit) from where this page ends.
    /// A query without a limit has not started paging: its next page starts at its own offset.
    /// - Returns: `nil` without a page size (no `size` and no limit), or when this page counts from the
    ///   end and is the last one.
    public func nextPage(size: Int? = nil) -> EntityQuery? {
        nextPaging(size: size).map(paged)
    }

    /// The limit and offset of ``nextPage(size:)``, without the query.
    func nextPaging(size: Int? = nil) -> QueryPaging? {
        guard let length = size ?? limit, length > 0 else { return nil }
        var pageOffset = offset
        if offset < 0 {
            let pageLimit = limit ?? 0
            guard offset + pageLimit < 0 else { return nil }
            pageOffset = offset + pageLimit
        } else if let limit {
            pageOffset = offset + limit
        }
        return QueryPaging(limit: length, offset: pageOffset)
    }

    /// The page before this one: `size` entities (default: this page's limit) that end where this page
    /// starts; fewer when there are fewer before it, so pages never overlap. Without a limit or a size, the
    /// page is everything before this one.
    /// - Returns: `nil` when this page starts at the first entity or counts from the end.
    public func previousPage(size: Int? = nil) -> EntityQuery? {
        previousPaging(size: size).map(paged)
    }

    /// The limit and offset of ``previousPage(size:)``, without the query.
    func previousPaging(size: Int? = nil) -> QueryPaging? {
        guard offset > 0 else { return nil }
        let length = size ?? limit ?? offset
        guard length > 0 else { return nil }
        return QueryPaging(limit: min(length, offset), offset: max(0, offset - length))
    }

    /// This query with another page's limit and offset.
    private func paged(_ paging: QueryPaging) -> EntityQuery {
        var page = self
        page.limit = paging.limit
        page.offset = paging.offset
        return page
    }

    /// The first `size` entities.
    public func firstPage(size: Int) -> EntityQuery {
        var page = self
        page.offset = 0
        page.limit = size
        return page
    }

    /// The last `size` entities.
    public func lastPage(size: Int) -> EntityQuery {
        var page = self
        page.offset = -size
        page.limit = size
        return page
    }

    /// Every entity: no offset and no limit (a `GET` still returns at most
    /// ``SwitchboardAPI/Configuration/maxRowsPerRequest``, with a link to the rest).
    public var allEntities: EntityQuery {
        var page = self
        page.offset = 0
        page.limit = nil
        return page
    }

    /// The `PreviousPage` and `NextPage` links of a response that returned `returned` entities: the next one
    /// only when the page came back full, neither for pages that count from the end.
    func pageLinks(returned: Int) -> (previous: String?, next: String?) {
        guard offset >= 0 else { return (nil, nil) }
        let links = pageLinkTexts
        return (links.previous, limit.map { returned == $0 } == true ? links.next : nil)
    }
}

/// A page's limit and offset: what a query's neighbouring pages change of it.
struct QueryPaging {
    var limit: Int?
    var offset: Int
}
