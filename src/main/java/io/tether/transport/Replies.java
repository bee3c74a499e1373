package io.tether.transport;

import io.tether.cluster.routing.StreamRouter.RouteException;
import io.tether.stream.Offset;
import io.tether.stream.StreamReply;
import io.tether.stream.StreamSettings;
import io.vertx.core.http.HttpServerResponse;

import static io.tether.transport.ProtocolHeaders.CLOSED;
import static io.tether.transport.ProtocolHeaders.EXPIRES_AT;
import static io.tether.transport.ProtocolHeaders.NEXT_OFFSET;
import static io.tether.transport.ProtocolHeaders.PRODUCER_EPOCH;
import static io.tether.transport.ProtocolHeaders.PRODUCER_EXPECTED_SEQ;
import static io.tether.transport.ProtocolHeaders.PRODUCER_RECEIVED_SEQ;
import static io.tether.transport.ProtocolHeaders.TTL;

/**
 * The one place where stream outcomes become HTTP statuses, error codes and headers. WebSocket error
 * frames use the same statuses and codes.
 */
public final class Replies {

  /** Custom header on 410 answers for an evicted offset: where the retained events begin. */
  public static final String EARLIEST_OFFSET = "Stream-Earliest-Offset";

  private static final String PARTITION_LOST_DETAIL =
      "every copy of this stream's partition is on members out of reach; retry once they are back";

  private Replies() {
  }

  /** The client-visible refusal for an unsuccessful reply. */
  public static ApiError refusal(StreamReply reply) {
    String detail = reply.detail();
    return switch (reply.outcome()) {
      case NOT_FOUND, ABSENT -> ApiError.of(404, "stream_not_found", orElse(detail, "stream not found"));
      case SOFT_DELETED -> ApiError.of(410, "stream_deleted", "stream was deleted (forks still reference it)");
      case OFFSET_GONE -> {
        ApiError e = ApiError.of(410, "offset_gone",
            "offset is older than the events this stream retains; resume from " + text(reply.earliest())
                + " or from a snapshot");
        yield reply.earliest() == null ? e : e.withHeader(EARLIEST_OFFSET, reply.earliest().toString());
      }
      case OFFSET_FUTURE -> ApiError.of(400, "offset_beyond_tail",
          "offset is beyond the tail of the stream (" + text(reply.next()) + ")");
      case BAD_REQUEST -> ApiError.of(400, "bad_request", orElse(detail, "bad request"));
      case FORBIDDEN -> ApiError.of(403, "session_stream_read_only", orElse(detail, "this stream is written by its session only"));
      case CONFLICT_CONFIG -> ApiError.of(409, "stream_conflict", orElse(detail, "stream exists with a different configuration"));
      case CONFLICT_CLOSED -> {
        ApiError e = ApiError.of(409, "stream_closed", "stream is closed").withHeader(CLOSED, "true");
        yield reply.next() == null ? e : e.withHeader(NEXT_OFFSET, reply.next().toString());
      }
      case CONFLICT_CONTENT_TYPE -> ApiError.of(409, "content_type_mismatch", orElse(detail, "content type mismatch"));
      case CONFLICT_SEQ -> ApiError.of(409, "sequence_conflict", orElse(detail, "Stream-Seq regression"));
      case PRODUCER_STALE_EPOCH -> ApiError.of(403, "producer_fenced", orElse(detail, "stale producer epoch"))
          .withHeader(PRODUCER_EPOCH, Long.toString(reply.producerEpoch()));
      case PRODUCER_SEQ_GAP -> ApiError.of(409, "producer_sequence_gap", "producer sequence gap")
          .withHeader(PRODUCER_EXPECTED_SEQ, Long.toString(reply.expectedSeq()))
          .withHeader(PRODUCER_RECEIVED_SEQ, Long.toString(reply.receivedSeq()));
      case LIMIT_REACHED -> ApiError.of(429, "too_many_streams", orElse(detail, "the cluster holds its maximum of streams"));
      case NO_QUORUM -> ApiError.of(503, "no_quorum", orElse(detail, "this node is not on the majority side of the cluster"))
          .withHeader("Retry-After", "1");
      case UNDER_REPLICATED -> ApiError.of(503, "under_replicated", orElse(detail, "the stream has no backup copy right now"))
          .withHeader("Retry-After", "1");
      case PARTITION_LOST -> ApiError.of(503, "partition_unavailable", orElse(detail, PARTITION_LOST_DETAIL))
          .withHeader("Retry-After", "5");
      default -> ApiError.of(503, "unavailable", "the stream owner is changing; retry").withHeader("Retry-After", "1");
    };
  }

  /** The client-visible refusal for a request that could not reach (or hear back from) an owner. */
  public static ApiError failure(Throwable cause) {
    if (cause instanceof ApiError.Refusal refusal) {
      return refusal.error();
    }
    if (cause instanceof RouteException route) {
      return switch (route.kind()) {
        case UNAVAILABLE -> ApiError.of(503, "cluster_unavailable", route.getMessage()).withHeader("Retry-After", "1");
        case OUTCOME_UNKNOWN -> ApiError.of(503, "outcome_unknown", route.getMessage()).withHeader("Retry-After", "1");
        case NOT_FOUND -> ApiError.of(404, "stream_not_found", orElse(route.getMessage(), "stream not found"));
        case NO_QUORUM -> ApiError.of(503, "no_quorum", route.getMessage()).withHeader("Retry-After", "1");
        case PARTITION_LOST -> ApiError.of(503, "partition_unavailable", orElse(route.getMessage(), PARTITION_LOST_DETAIL))
            .withHeader("Retry-After", "5");
        case INTERNAL -> ApiError.of(500, "internal_error", route.getMessage());
      };
    }
    return ApiError.of(500, "internal_error", String.valueOf(cause.getMessage()));
  }

  /** Stream metadata headers shared by PUT, HEAD and reads. */
  static void metadata(HttpServerResponse response, StreamReply reply) {
    StreamSettings settings = reply.settings();
    if (settings != null) {
      response.putHeader("Content-Type", settings.contentType());
      if (settings.hasTtl()) {
        response.putHeader(TTL, Long.toString(settings.ttlSeconds()));
      }
      if (settings.hasExpiresAt()) {
        response.putHeader(EXPIRES_AT, settings.expiresAtText());
      }
    }
    if (reply.next() != null) {
      response.putHeader(NEXT_OFFSET, reply.next().toString());
    }
    if (reply.closed()) {
      response.putHeader(CLOSED, "true");
    }
  }

  /** Entity tag of a read: incarnation, range and closure, so any change of content changes it. */
  static String etag(StreamReply reply) {
    return "\"" + Long.toHexString(reply.incarnation()) + ":" + reply.start() + ":" + reply.next()
        + (reply.closed() ? ":c" : "") + "\"";
  }

  private static String text(Offset offset) {
    return offset == null ? "?" : offset.toString();
  }

  private static String orElse(String value, String fallback) {
    return value == null || value.isBlank() ? fallback : value;
  }
}
