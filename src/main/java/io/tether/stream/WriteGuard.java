package io.tether.stream;

/**
 * The member-level conditions under which a stream's primary copy may act at all, checked on the
 * partition thread by every processor before it reads or changes a stream: the member is on the majority
 * side of the cluster and has not just woken from a pause, and (for writes) the stream's partition has the
 * backup copy that makes an acknowledged write survive the loss of this member.
 *
 * <p>The processors find the guard in the Hazelcast instance's user context under {@link #CONTEXT_KEY};
 * without one (a bare Hazelcast instance in a unit test) everything is allowed.
 */
public interface WriteGuard {

  String CONTEXT_KEY = "tether.writeGuard";

  /**
   * Why an operation on {@code key} may not run on this member now, or {@code null} when it may.
   *
   * @param key   the stream's key
   * @param write whether the operation changes the stream (and so needs a backup copy)
   * @return a refusal ({@link Outcome#NO_QUORUM} or {@link Outcome#UNDER_REPLICATED}), or {@code null}
   */
  StreamReply refusal(Object key, boolean write);

  /**
   * Why this member may not answer that {@code key} is absent (or create it) now, or {@code null} when
   * it may: the stream's partition may have lost every copy on this side, so its absence here proves
   * nothing. Checked only where a processor finds no entry.
   */
  default StreamReply absentRefusal(Object key) {
    return null;
  }
}
