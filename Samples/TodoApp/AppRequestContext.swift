import Hummingbird
import SwitchboardHummingbird

/// The application's own request context. One stored property makes it one Switchboard can serve
/// (`SwitchboardRequestContextProtocol`); the application can add whatever else it needs.
struct AppRequestContext: RequestContext, SwitchboardRequestContextProtocol {
    var coreContext: CoreRequestContextStorage
    let switchboard: SwitchboardContextStorage<AppRequestContext>

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        switchboard = .init(source: source)
    }
}
