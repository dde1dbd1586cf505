//! The one error type the service layer returns, and the closed table of error codes that every
//! API (native and MLflow-compatible) maps to a wire code and an HTTP status.

/// The closed set of error codes visible on the wire. MLflow's client reads these strings, so
/// they are spelled exactly as MLflow spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidParameterValue,
    ResourceDoesNotExist,
    ResourceAlreadyExists,
    Unauthenticated,
    PermissionDenied,
    RequestLimitExceeded,
    InternalError,
    /// The scoring router's: a model did not answer within its deployment's request timeout.
    RequestTimeout,
    /// The scoring router's: a deployment's worker failed while handling the request.
    BadGateway,
    /// The scoring router's: a deployment has no ready instance.
    TemporarilyUnavailable,
    /// A request's body is larger than the API takes.
    PayloadTooLarge,
}

impl ErrorCode {
    /// The code string as MLflow sends it in `error_code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::RequestLimitExceeded => "REQUEST_LIMIT_EXCEEDED",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::RequestTimeout => "REQUEST_TIMEOUT",
            ErrorCode::BadGateway => "BAD_GATEWAY",
            ErrorCode::TemporarilyUnavailable => "TEMPORARILY_UNAVAILABLE",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
        }
    }

    /// The HTTP status that goes with the code. Permanent errors are 4xx: the MLflow client
    /// retries 5xx for minutes, which looks like a hang to a user.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidParameterValue => 400,
            ErrorCode::ResourceDoesNotExist => 404,
            ErrorCode::ResourceAlreadyExists => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::PermissionDenied => 403,
            ErrorCode::RequestLimitExceeded => 429,
            ErrorCode::InternalError => 500,
            // Azure ML's statuses for a scoring request (only the scoring router uses these).
            ErrorCode::RequestTimeout => 408,
            ErrorCode::BadGateway => 502,
            ErrorCode::TemporarilyUnavailable => 503,
            ErrorCode::PayloadTooLarge => 413,
        }
    }
}

/// An error with its wire code and a message that tells the user what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidParameterValue, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::ResourceDoesNotExist, message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::ResourceAlreadyExists, message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Unauthenticated, message)
    }
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::PermissionDenied, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InternalError, message)
    }
}

impl From<crate::filter::FilterError> for Error {
    fn from(error: crate::filter::FilterError) -> Self {
        Error::invalid(error.message)
    }
}
