/** Reads a server-sent-event response to the end (or until `onEvent` returns true), in order. */
export async function readSse(
  res: Response,
  onEvent?: (event: string, data: any) => boolean | void | Promise<boolean | void>,
): Promise<{ event: string; data: any }[]> {
  const events: { event: string; data: any }[] = [];
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null');
      events.push({ event, data });
      if (await onEvent?.(event, data)) {
        await reader.cancel();
        return events;
      }
    }
  }
  return events;
}
