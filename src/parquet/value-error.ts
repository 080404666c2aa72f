/** A value that does not fit its column (its type, or a null in a required column): the row's fault, not the writer's. */
export class ValueError extends TypeError {
  /** The top-level column the value belongs to. */
  readonly column: string;
  constructor(message: string, column: string) {
    super(message);
    this.column = column;
  }
}
