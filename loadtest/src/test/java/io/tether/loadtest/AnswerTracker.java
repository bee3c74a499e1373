package io.tether.loadtest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gatling.http.action.ws.WsInboundMessage;
import io.gatling.javaapi.core.Session;

import java.util.List;

/**
 * Rebuilds a user's view of its session from the WebSocket frames it received, as a client would:
 * each data frame must start at the offset where the previous one ended. A frame that ends at or
 * before that offset is a duplicate, one that starts after it is a gap; both are counted and make the
 * user's final check fail. Session attributes: {@code offset}, {@code text} (the assistant text),
 * {@code done} (generation ended), {@code gaps}, {@code duplicates}.
 */
final class AnswerTracker {

  private static final ObjectMapper JSON = new ObjectMapper();

  private AnswerTracker() {
  }

  static Session start(Session session) {
    return session.set("offset", "-1").set("text", "").set("done", false).set("gaps", 0).set("duplicates", 0);
  }

  static Session process(List<WsInboundMessage> messages, Session session) {
    String offset = session.getString("offset");
    StringBuilder text = new StringBuilder(session.getString("text"));
    boolean done = session.getBoolean("done");
    int gaps = session.getInt("gaps");
    int duplicates = session.getInt("duplicates");
    for (WsInboundMessage message : messages) {
      if (!(message instanceof WsInboundMessage.Text frameText)) {
        continue;
      }
      JsonNode frame;
      try {
        frame = JSON.readTree(frameText.message());
      } catch (Exception e) {
        continue;
      }
      if (!"data".equals(frame.path("type").asText())) {
        continue;
      }
      String from = frame.path("offset").asText();
      String next = frame.path("nextOffset").asText();
      if (!offset.equals("-1") && next.compareTo(offset) <= 0) {
        duplicates++;
        continue;
      }
      if (!offset.equals("-1") && !from.equals(offset)) {
        gaps++;
      }
      for (JsonNode event : frame.path("data")) {
        String type = event.path("type").asText();
        if (type.equals("assistant.delta")) {
          text.append(event.path("text").asText());
        } else if (type.equals("generation.completed") || type.equals("generation.failed")
            || type.equals("generation.stopped")) {
          done = true;
        }
      }
      offset = next;
    }
    return session.set("offset", offset).set("text", text.toString()).set("done", done).set("gaps", gaps)
        .set("duplicates", duplicates);
  }

  /** What the snapshot's final answer must equal: the rebuilt text, or a marker that cannot match. */
  static String expected(Session session) {
    int gaps = session.getInt("gaps");
    int duplicates = session.getInt("duplicates");
    if (!session.getBoolean("done")) {
      return "<the answer did not complete>";
    }
    return gaps + duplicates == 0 ? session.getString("text") : "<" + gaps + " gaps and " + duplicates + " duplicates>";
  }
}
