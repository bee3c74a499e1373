package io.tether.support;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** HTTP/1.1 over a plain socket, for requests no well-behaved client would send. */
public final class RawHttp {

  private RawHttp() {
  }

  /**
   * The final answer's status line and headers; {@code status} is -1 when the connection closed (or
   * stayed silent past the timeout) without one.
   */
  public record Answer(int status, String head) {
  }

  /** Sends {@code request} on a new connection and reads the answer's head (skipping 1xx answers). */
  public static Answer exchange(int port, byte[] request, Duration timeout) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout((int) timeout.toMillis());
      try {
        socket.getOutputStream().write(request);
        socket.getOutputStream().flush();
      } catch (IOException e) {
        // The server may have answered and closed while the request was still being written.
      }
      InputStream in = socket.getInputStream();
      while (true) {
        String head = readHead(in);
        if (head == null) {
          return new Answer(-1, "");
        }
        int status = Integer.parseInt(head.substring(9, 12));
        if (status >= 200) {
          return new Answer(status, head);
        }
      }
    }
  }

  /** Reads up to the blank line ending a response head; {@code null} at end of stream or timeout. */
  public static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    try {
      int b;
      while ((b = in.read()) >= 0) {
        head.write(b);
        byte[] h = head.toByteArray();
        int n = h.length;
        if (n >= 4 && h[n - 4] == '\r' && h[n - 3] == '\n' && h[n - 2] == '\r' && h[n - 1] == '\n') {
          return head.toString(StandardCharsets.ISO_8859_1);
        }
      }
    } catch (SocketTimeoutException | java.net.SocketException e) {
      return null;
    }
    return null;
  }
}
