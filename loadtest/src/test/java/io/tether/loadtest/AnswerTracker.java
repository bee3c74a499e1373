package io.tether.loadtest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gatling.http.action.sse.SseInboundMessage;
import io.gatling.http.action.ws.WsInboundMessage;
import io.gatling.javaapi.core.Session;

import java.util.List;

/**
 * Rebuilds a user's view of its session from what its transports delivered, as a client would: each
 * batch must start at the offset where the previous one ended. A batch that ends at or before that
 * offset is a duplicate, one that starts after it is a gap; both are counted and fail the user's final
 * check. Session attributes: {@code offset}, {@code text} (the assistant text), {@code done},
 * {@code gaps}, {@code duplicates}, {@code heardAt} (last frame of any kind, for the watchdog).
 */
final class AnswerTracker {

  private static final ObjectMapper JSON = new ObjectMapper();

  private AnswerTracker() {
  }

  static Session start(Session session) {
    return session.set("offset", "-1").set("text", "").set("done", false).set("gaps", 0).set("duplicates", 0)
        .set("heardAt", System.currentTimeMillis()).set("conn", 0).set("pending", "");
  }

  /** WebSocket frames: each data frame names its own start and end offsets. */
  static Session websocket(List<WsInboundMessage> messages, Session session) {
    for (WsInboundMessage message : messages) {
      if (message instanceof WsInboundMessage.Text text) {
        session = session.set("heardAt", System.currentTimeMillis());
        JsonNode frame = parse(text.message());
        if (frame != null && "data".equals(frame.path("type").asText())) {
          session = batch(session, frame.path("offset").asText(), frame.path("nextOffset").asText(), frame.path("data"));
        }
      }
    }
    return session;
  }

  /** SSE events (as Gatling encodes them): a data event, then the control event that ends its batch. */
  static Session sse(List<SseInboundMessage> messages, Session session) {
    for (SseInboundMessage message : messages) {
      session = session.set("heardAt", System.currentTimeMillis());
      JsonNode event = parse(message.message());
      if (event == null) {
        continue;
      }
      String type = event.path("event").asText();
      // Gatling hands the event with its data already parsed when it is JSON.
      JsonNode data = event.path("data").isTextual() ? parse(event.path("data").asText()) : event.path("data");
      if (type.equals("data")) {
        session = session.set("pending", data == null ? "" : data.toString());
      } else if (type.equals("control")) {
        JsonNode control = data;
        String pending = session.getString("pending");
        JsonNode events = pending.isEmpty() ? JSON.createArrayNode() : parse(pending);
        session = session.set("pending", "");
        if (control != null && events != null && events.size() > 0) {
          session = batch(session, session.getString("offset"), control.path("streamNextOffset").asText(), events);
        }
      }
    }
    return session;
  }

  /** A long-poll answer: its body is the batch, its Stream-Next-Offset the end. */
  static Session longPoll(Session session, String body, String next) {
    session = session.set("heardAt", System.currentTimeMillis());
    JsonNode events = body == null || body.isEmpty() ? null : parse(body);
    if (events != null && events.size() > 0 && next != null) {
      return batch(session, session.getString("offset"), next, events);
    }
    return next == null ? session : session.set("offset", maxOffset(session.getString("offset"), next));
  }

  private static Session batch(Session session, String from, String next, JsonNode events) {
    String offset = session.getString("offset");
    if (!offset.equals("-1") && next.compareTo(offset) <= 0) {
      return session.set("duplicates", session.getInt("duplicates") + 1);
    }
    int gaps = session.getInt("gaps");
    if (!offset.equals("-1") && !from.equals(offset)) {
      gaps++;
    }
    StringBuilder text = new StringBuilder(session.getString("text"));
    boolean done = session.getBoolean("done");
    for (JsonNode event : events) {
      String type = event.path("type").asText();
      if (type.equals("assistant.delta")) {
        text.append(event.path("text").asText());
      } else if (type.equals("generation.completed") || type.equals("generation.failed")
          || type.equals("generation.stopped")) {
        done = true;
      }
    }
    return session.set("offset", next).set("text", text.toString()).set("done", done).set("gaps", gaps);
  }

  private static String maxOffset(String a, String b) {
    return a.equals("-1") || b.compareTo(a) > 0 ? b : a;
  }

  private static JsonNode parse(String text) {
    try {
      return JSON.readTree(text);
    } catch (Exception e) {
      return null;
    }
  }

  static boolean heardWithin(Session session, long millis) {
    return System.currentTimeMillis() - session.getLong("heardAt") <= millis;
  }

  static boolean stale(Session session) {
    return System.currentTimeMillis() - session.getLong("heardAt") > Settings.STALE_MILLIS;
  }

  /**
   * A user whose answer did not complete within the deadline: prints its session, how far it got and on
   * how many connections, so that the nodes' logs can be searched for what held it up.
   */
  static Session reportUnfinished(Session session) {
    if (!session.getBoolean("done")) {
      System.err.printf("session %s: answer not complete after %d s: offset %s, %d chars, %d connections, "
              + "last frame %d ms ago on %s%n", session.getString("id"), Settings.ANSWER_DEADLINE.toSeconds(),
          session.getString("offset"), session.getString("text").length(), session.getInt("conn"),
          System.currentTimeMillis() - session.getLong("heardAt"), session.getString("base"));
    }
    return session;
  }

  /** Prints where the rebuilt answer and the session's final answer part, for the run's log. */
  static Session explainMismatch(Session session) {
    String rebuilt = session.getString("text");
    String actual = session.contains("final") ? session.getString("final") : null;
    if (actual != null && !actual.equals(rebuilt)) {
      int at = 0;
      while (at < Math.min(rebuilt.length(), actual.length()) && rebuilt.charAt(at) == actual.charAt(at)) {
        at++;
      }
      System.err.printf("session %s: rebuilt %d chars, final answer %d chars, first difference at %d:%n  rebuilt …%s%n  final   …%s%n"
              + "  gaps %d, duplicates %d, done %s%n", session.getString("id"), rebuilt.length(), actual.length(), at,
          rebuilt.substring(Math.max(0, at - 40), Math.min(rebuilt.length(), at + 40)),
          actual.substring(Math.max(0, at - 40), Math.min(actual.length(), at + 40)),
          session.getInt("gaps"), session.getInt("duplicates"), session.getBoolean("done"));
    }
    return session;
  }

  /** What the session's final answer must equal: the rebuilt text, or a marker that cannot match. */
  static String expected(Session session) {
    int gaps = session.getInt("gaps");
    int duplicates = session.getInt("duplicates");
    if (!session.getBoolean("done")) {
      return "<the answer did not complete>";
    }
    return gaps + duplicates == 0 ? session.getString("text") : "<" + gaps + " gaps and " + duplicates + " duplicates>";
  }
}
