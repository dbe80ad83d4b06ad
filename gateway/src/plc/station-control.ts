import { EventEmitter } from 'node:events';

export interface StationControlEvents {
  changed: [halted: boolean];
}

/**
 * Halt and Reset of one station as OPC UA clients see it (the vision
 * system's state machine). A halted station takes no parts from the PLC
 * handshake or the StartSingleJob method; Ready drops until Reset.
 */
export class StationControl extends EventEmitter<StationControlEvents> {
  private isHalted = false;

  get halted(): boolean {
    return this.isHalted;
  }

  halt(): void {
    if (this.isHalted) return;
    this.isHalted = true;
    this.emit('changed', true);
  }

  reset(): void {
    if (!this.isHalted) return;
    this.isHalted = false;
    this.emit('changed', false);
  }
}
