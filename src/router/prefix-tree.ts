// What the router believes one worker has cached: an approximate radix tree over the prompts it sent
// there (token ids, or code points when it has no tokenizer). Approximate because the worker evicts on
// its own schedule; the tree only bounds its own size, dropping the least recently used leaves.

interface Node {
  /** The edge into this node. */
  key: number[];
  children: Map<number, Node>;
  parent: Node | null;
  lastUsed: number;
}

export class PrefixTree {
  private readonly root: Node = { key: [], children: new Map(), parent: null, lastUsed: 0 };
  /** Elements held over all edges. */
  size = 0;
  private clock = 0;

  /** `maxSize`: elements kept; inserting beyond it evicts down to 90% of it. */
  constructor(private readonly maxSize: number) {}

  /** How many leading elements of `seq` the tree holds. */
  matchLength(seq: readonly number[]): number {
    let node = this.root;
    let i = 0;
    for (;;) {
      const child = i < seq.length ? node.children.get(seq[i]!) : undefined;
      if (!child) return i;
      const common = commonLength(child.key, seq, i);
      i += common;
      if (common < child.key.length) return i;
      node = child;
    }
  }

  insert(seq: readonly number[]): void {
    const now = ++this.clock;
    let node = this.root;
    let i = 0;
    while (i < seq.length) {
      node.lastUsed = now;
      const child = node.children.get(seq[i]!);
      if (!child) {
        const leaf: Node = { key: seq.slice(i), children: new Map(), parent: node, lastUsed: now };
        node.children.set(seq[i]!, leaf);
        this.size += leaf.key.length;
        break;
      }
      const common = commonLength(child.key, seq, i);
      if (common < child.key.length) this.split(child, common);
      node = child;
      i += common;
    }
    node.lastUsed = now;
    if (this.size > this.maxSize) this.evict(Math.floor(this.maxSize * 0.9));
  }

  /** Cuts `node`'s edge after `at` elements: the head stays as `node`, the tail becomes its only child. */
  private split(node: Node, at: number): void {
    const tail: Node = { key: node.key.slice(at), children: node.children, parent: node, lastUsed: node.lastUsed };
    for (const c of tail.children.values()) c.parent = tail;
    node.key = node.key.slice(0, at);
    node.children = new Map([[tail.key[0]!, tail]]);
  }

  private evict(target: number): void {
    while (this.size > target) {
      const leaves = this.leaves().sort((a, b) => a.lastUsed - b.lastUsed);
      for (const leaf of leaves) {
        if (this.size <= target) return;
        leaf.parent!.children.delete(leaf.key[0]!);
        this.size -= leaf.key.length;
      }
    }
  }

  private leaves(): Node[] {
    const out: Node[] = [];
    const stack = [...this.root.children.values()];
    while (stack.length) {
      const n = stack.pop()!;
      if (n.children.size === 0) out.push(n);
      else stack.push(...n.children.values());
    }
    return out;
  }
}

function commonLength(edge: readonly number[], seq: readonly number[], from: number): number {
  let k = 0;
  while (k < edge.length && from + k < seq.length && edge[k] === seq[from + k]) k++;
  return k;
}
