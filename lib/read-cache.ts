// One run's reads, kept until its next write: the same read again (a step's verify after
// a check that changed nothing, step 12 reading the role step 02 read) is answered from
// here instead of the server. Any write forgets everything, before it is sent and after
// it is answered, so a read after a write always goes to the server. Only answers that
// found something are kept: a read that failed or found nothing is asked again, so
// "wait until it exists" loops still work. (A loop that waits for something to change
// must not read through it.) Every answer is a copy: callers may change what they get.
export class ReadCache {
  private readonly entries = new Map<string, Promise<unknown>>();

  read<T>(key: string, fetch: () => Promise<T>, found: (v: T) => boolean = (v) => v !== undefined): Promise<T> {
    let entry = this.entries.get(key) as Promise<T> | undefined;
    if (!entry) {
      entry = fetch();
      const kept = entry;
      this.entries.set(key, kept);
      const forget = () => {
        if (this.entries.get(key) === kept) this.entries.delete(key);
      };
      kept.then((v) => {
        if (!found(v)) forget();
      }, forget);
    }
    return entry.then((v) => structuredClone(v));
  }

  async write<T>(send: () => Promise<T>): Promise<T> {
    this.entries.clear();
    try {
      return await send();
    } finally {
      this.entries.clear();
    }
  }
}
