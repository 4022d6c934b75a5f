import OpsHTTP

/// One accept thread's request handler: nginx's auth subrequests go to the access check,
/// everything else through the route table.
public final class Application {
    let router: Router<AppContext>
    let context: AppContext

    public init(router: Router<AppContext>, context: AppContext) {
        self.router = router
        self.context = context
    }

    public func handle(_ request: Request) -> Response {
        if request.isAuthSubrequest {
            return AuthRoutes.check(request, context, router: router)
        }
        return router.dispatch(request, context: context) { error, request in
            mapError(error, request, logger: context.logger)
        }
    }
}
