// The reply classification table: a mailstore's reply -> what Holdfast does with that recipient.

export type ReplyAction = 'delivered' | 'transient' | 'permanent';

export type ReplyCategory =
  | 'accepted'
  | 'auth-required'
  | 'user-unknown'
  | 'mailbox-full'
  | 'message-too-big'
  | 'policy'
  | 'service-unavailable'
  | 'temporary'
  | 'permanent'
  | 'unrecognised';

export interface ReplyRule {
  pattern: RegExp;
  action: ReplyAction;
  category: ReplyCategory;
}

/**
 * First match wins. The numeric code decides the action (RFC 5321: 2xx done, 4xx try again,
 * 5xx permanent); the category says why, for logs, DSNs and the 5xx guard. A reply with no
 * valid code is treated as transient: never bounce on something we could not read.
 */
export const REPLY_RULES: readonly ReplyRule[] = [
  { pattern: /^2\d\d\b/, action: 'delivered', category: 'accepted' },
  // The store wants LMTP/SMTP AUTH (Cyrus's lmtpd on TCP: 430 at MAIL FROM; RFC 4954's 530 5.7.0
  // Authentication required): Holdfast's configuration is wrong, not the recipient. Kept and
  // retried, never bounced. Matched by its text: 530 5.7.0 also says "STARTTLS first".
  {
    pattern: /^(430\b|[45]\d\d\b.*\bauthentication (is )?required\b)/i,
    action: 'transient',
    category: 'auth-required',
  },
  { pattern: /^421\b/, action: 'transient', category: 'service-unavailable' },
  { pattern: /^4\d\d[ -]4\.2\.2\b/, action: 'transient', category: 'mailbox-full' },
  {
    pattern: /^4\d\d\b.*\b(over ?quota|quota exceeded|mailbox (is )?full)/i,
    action: 'transient',
    category: 'mailbox-full',
  },
  { pattern: /^4\d\d\b/, action: 'transient', category: 'temporary' },
  { pattern: /^5\d\d[ -]5\.1\.[0-3]\b/, action: 'permanent', category: 'user-unknown' },
  {
    pattern:
      /^5\d\d\b.*\b(user unknown|unknown user|no such user|mailbox not found|does not exist|mailbox unavailable)/i,
    action: 'permanent',
    category: 'user-unknown',
  },
  { pattern: /^5\d\d[ -]5\.2\.2\b/, action: 'permanent', category: 'mailbox-full' },
  {
    pattern: /^5\d\d\b.*\b(over ?quota|quota exceeded|mailbox (is )?full)/i,
    action: 'permanent',
    category: 'mailbox-full',
  },
  { pattern: /^5\d\d[ -]5\.(2\.3|3\.4)\b/, action: 'permanent', category: 'message-too-big' },
  { pattern: /^5\d\d[ -]5\.7\.\d+\b/, action: 'permanent', category: 'policy' },
  { pattern: /^5\d\d\b/, action: 'permanent', category: 'permanent' },
];

export interface Classification {
  action: ReplyAction;
  category: ReplyCategory;
  /** Enhanced status code from the reply, or one derived from the basic code. */
  status: string;
}

/**
 * A multi-line reply (`550-Mailbox unknown...` / `550 5.1.1 User unknown`, as Cyrus answers) is
 * read by its last line, which carries the code and the enhanced status; when that line alone
 * finds only a generic rule, the text of every line is read as one.
 */
export function classifyReply(reply: string): Classification {
  const lines = reply.trim().split(/\r?\n/);
  const text = lines[lines.length - 1]!.trim();
  let rule = REPLY_RULES.find((candidate) => candidate.pattern.test(text));
  if (lines.length > 1 && (rule?.category === 'permanent' || rule?.category === 'temporary')) {
    const joined = `${text.slice(0, 3)} ${lines.map((line) => line.trim().replace(/^\d{3}[ -]/, '')).join(' ')}`;
    rule = REPLY_RULES.find((candidate) => candidate.pattern.test(joined)) ?? rule;
  }
  if (!rule) return { action: 'transient', category: 'unrecognised', status: '4.0.0' };
  const enhanced = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(text)?.[1];
  // An enhanced code whose class contradicts the basic code ("550 4.2.2") is not believed.
  const status = enhanced && enhanced[0] === text[0] ? enhanced : `${text[0]}.0.0`;
  return { action: rule.action, category: rule.category, status };
}
