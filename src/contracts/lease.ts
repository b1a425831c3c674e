/** A lease one holder at a time may have (the backfill's: src/aggregate/backfill/lease.ts). */
export interface Lease {
  /** Takes the lease if free (or already ours); false when another holder has it. */
  acquire(): Promise<boolean>;
  /** Whether we still hold it (false after a failed renewal: another may have taken it). */
  held(): boolean;
  release(): Promise<void>;
  close(): Promise<void>;
}
