/**
 * After a test file's teardown no OPC UA server may still listen and no
 * session socket may still be open: a leaked one keeps a PLC connection slot
 * (S7-1500s have few) and a gateway process alive after stop.
 */
export async function expectNoOpenSockets(timeoutMs = 3000): Promise<void> {
  const open = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap' || r === 'TCPWRAP');
  const until = Date.now() + timeoutMs;
  while (open().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const left = open();
  if (left.length > 0) throw new Error(`leaked after teardown: ${left.join(', ')}`);
}
