/**
 * Errors of the socialmessaging API in AWS's restJson1 shape: an HTTP status, the
 * `x-amzn-errortype` header naming the exception and a JSON body `{"message": "..."}`. The SDK
 * maps the header to its exception class, so `err.name` is the name given here.
 */
export type AwsErrorName =
  | 'AccessDeniedByMetaException'
  | 'AccessDeniedException'
  | 'DependencyException'
  | 'InternalServiceException'
  | 'InvalidParametersException'
  | 'ResourceNotFoundException'
  | 'SerializationException'
  | 'ThrottledRequestException'
  | 'UnknownOperationException'
  | 'ValidationException';

/** HTTP status of each exception, as in the service model. */
export const AWS_ERROR_STATUS: Readonly<Record<AwsErrorName, number>> = {
  AccessDeniedByMetaException: 403,
  AccessDeniedException: 403,
  DependencyException: 502,
  InternalServiceException: 500,
  InvalidParametersException: 400,
  ResourceNotFoundException: 404,
  SerializationException: 400,
  ThrottledRequestException: 429,
  UnknownOperationException: 404,
  ValidationException: 400,
};

export class AwsApiError extends Error {
  readonly errorType: AwsErrorName;
  readonly status: number;

  constructor(errorType: AwsErrorName, message: string) {
    super(message);
    this.name = 'AwsApiError';
    this.errorType = errorType;
    this.status = AWS_ERROR_STATUS[errorType];
  }
}

/** AWS's wording for a member that fails a constraint. */
export function validationError(member: string, constraint: string): AwsApiError {
  return new AwsApiError('ValidationException', `1 validation error detected: Value at '${member}' failed to satisfy constraint: ${constraint}`);
}

/** AWS's wording for a missing required member. */
export function missingMember(member: string): AwsApiError {
  return new AwsApiError(
    'ValidationException',
    `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
  );
}
