package io.tether.stream;

/**
 * What an operation on a stream came to. The transport layer maps each outcome to an HTTP status (and
 * WebSocket error code) in one place; see {@code docs/errors.md}.
 */
public enum Outcome {
  /** PUT created the stream (201). */
  CREATED,
  /** PUT found the stream with the same configuration (200). */
  EXISTS,
  /** Append accepted (204, or 200 with producer headers). */
  APPENDED,
  /** Idempotent producer retry or repeated close: nothing changed (204). */
  DUPLICATE,
  /** Read, subscribe or metadata succeeded (200). */
  OK,
  /** DELETE succeeded (204). */
  DELETED,
  /** No such stream (404). */
  NOT_FOUND,
  /** The stream was deleted but forks still reference it (410). */
  SOFT_DELETED,
  /** The requested offset is older than the ring retains (410). */
  OFFSET_GONE,
  /** The requested offset is past the tail (400). */
  OFFSET_FUTURE,
  /** Malformed or inconsistent request detected against stream state (400). */
  BAD_REQUEST,
  /** PUT with a different configuration, or re-creation of a soft-deleted stream (409). */
  CONFLICT_CONFIG,
  /** Append to a closed stream (409 with Stream-Closed). */
  CONFLICT_CLOSED,
  /** Append content type differs from the stream's (409). */
  CONFLICT_CONTENT_TYPE,
  /** Stream-Seq not greater than the last one (409). */
  CONFLICT_SEQ,
  /** Producer epoch older than the known one: zombie fenced (403). */
  PRODUCER_STALE_EPOCH,
  /** Producer sequence skipped ahead (409 with expected/received seq). */
  PRODUCER_SEQ_GAP,
  /** The stream is written by its session only (403). */
  FORBIDDEN,
  /** The entry does not exist (ownership claim on an absent stream). */
  ABSENT,
  /** The caller's ownership epoch is not the current one: it must step down (never reaches clients). */
  STALE_OWNER,
  /** The stream moved to another owner; retry through the router (never reaches clients). */
  MOVED,
  /** A new stream would exceed the streams the member may hold (429). Outcomes travel as ordinals: add new ones last. */
  LIMIT_REACHED,
  /**
   * This member is not on the majority side of the cluster (a partition, or it woke from a pause and has
   * not heard from the others since): it serves nothing, the majority side does (503, retry).
   */
  NO_QUORUM,
  /** The stream's partition has no backup copy right now and writes need one (503, retry). */
  UNDER_REPLICATED,
  /**
   * Every copy of the stream's partition was on members this side of the cluster lost (two members gone
   * at once, or a split that left both copies on the other side): whether the stream exists is unknown
   * here until they rejoin, so nothing is answered as absent and nothing is created (503, retry).
   */
  PARTITION_LOST,
  /**
   * An append the owner sent again, after Hazelcast could not say whether the first was applied, and the
   * stream's record of the owner's appends cannot tell either ({@link OwnerAppends.Unknown}): nothing
   * changed, and the writer is told the outcome is unknown.
   */
  IN_DOUBT;

  /** Whether this is a refusal of the member to serve the stream now, to be retried later or elsewhere. */
  public boolean isRetryLater() {
    return this == NO_QUORUM || this == UNDER_REPLICATED || this == PARTITION_LOST;
  }
}
