// Live news over Socket.IO.
//
// Every event of a job carries `seq`, its line number in the job's events file. A page keeps the
// next seq it expects, holds back events that arrive early, and on (re)connect asks the server
// for everything after what it has, so nothing is missed and nothing is applied twice.

const JOB_MANAGEMENT = "job_management";

// Every job's news (the home page): `onJoined` at each (re)connect, once listening (the page
// then asks for its rows, which are at least as new as what follows), `onEvent` each change.
export function watchJobs(onJoined, onEvent) {
  const socket = io("/jobs");
  socket.on("connect", () => socket.emit("join", { room: JOB_MANAGEMENT }, onJoined));
  socket.on("job update", onEvent);
}

// One job's events in order from `lastSeq + 1` on; its usage samples as they come.
export function followJob(jobId, lastSeq, { onEvent, onUsage, onDeleted }) {
  let next = lastSeq + 1;
  const early = new Map();
  const socket = io("/jobs");

  function receive(events) {
    for (const event of events) {
      if (event.seq >= next) early.set(event.seq, event);
    }
    while (early.has(next)) {
      onEvent(early.get(next));
      early.delete(next);
      next += 1;
    }
    if (early.size) catchUp(); // a gap: the server's file has what we missed
  }

  function catchUp() {
    socket.emit("join", { room: jobId, since: next }, (answer) => {
      if (answer.events) receive(answer.events);
    });
  }

  socket.on("connect", catchUp);
  socket.on("job usage", (sample) => {
    if (sample.job_id === jobId) onUsage(sample);
  });
  socket.on("job update", (event) => {
    if (event.job_id !== jobId) return;
    if (event.update === "deleted") onDeleted();
    else receive([event]);
  });
}
