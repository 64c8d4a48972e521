// The catalogue of log event names: every log record carries one of these as its `event` field.

export const EVENTS = {
  starting: 'Starting',
  ready: 'Ready',
  stopping: 'Stopping',
  stopped: 'Stopped',
  redisEmbeddedStarted: 'RedisEmbeddedStarted',
  redisEmbeddedExited: 'RedisEmbeddedExited',
  redisNotDurable: 'RedisNotDurable',
  redisUnavailable: 'RedisUnavailable',
  redisMemoryHigh: 'RedisMemoryHigh',
  redisMemoryNormal: 'RedisMemoryNormal',
  rejection: 'Rejection',
  reception: 'Reception',
  receptionFailed: 'ReceptionFailed',
  attempt: 'Attempt',
  delivery: 'Delivery',
  transientFailure: 'TransientFailure',
  permanentFailure: 'PermanentFailure',
  bounce: 'Bounce',
  bounceDiscarded: 'BounceDiscarded',
  bounceHeld: 'BounceHeld',
  bounceSendFailed: 'BounceSendFailed',
  expiration: 'Expiration',
  jobError: 'JobError',
  mailstoreState: 'MailstoreState',
  suspectSettled: 'SuspectSettled',
  probe: 'Probe',
  messagesDeleted: 'MessagesDeleted',
  rerouted: 'Rerouted',
} as const;

export type EventName = (typeof EVENTS)[keyof typeof EVENTS];
