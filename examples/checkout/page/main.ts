import { TEST_CARDS, type OrderView, type PaymentView } from '../shared/checkout-api';
import { PaymentKeys, payUntilDecided, type PaymentOutcome, type PendingPayment } from './payment';

type StatusState = 'loading' | 'idle' | 'paying' | 'confirming' | 'paid' | 'declined' | 'failed' | 'unconfirmed' | 'error';

const params = new URLSearchParams(location.search);
const orderId = params.get('order');
// A switch for the tests: Pay stays clickable while a payment runs, to show that double clicks are
// made safe by the idempotency key on the server, not by the disabled button (a courtesy).
const keepPayEnabled = params.has('test-keep-pay-enabled');

const keys = new PaymentKeys();
/** The key of the payment this page shows; answers for an older key (a payment the shopper replaced after a decline) are ignored. */
let activeKey: string | undefined;
/** Keys whose decided outcome is on screen: later answers for them (concurrent clicks) change nothing. */
const settledKeys = new Set<string>();

const main = element('main', document.querySelector('main'));
const form = element('payment-form', document.getElementById('payment-form'));
const payButton = element('pay', document.getElementById('pay')) as HTMLButtonElement;
const payLabel = element('pay-label', document.getElementById('pay-label'));
const status = element('status', document.getElementById('status'));
const statusTitle = element('status-title', document.getElementById('status-title'));
const statusDetail = element('status-detail', document.getElementById('status-detail'));
const storageNotice = element('storage-notice', document.getElementById('storage-notice'));
const methods = element('methods', document.getElementById('methods')) as HTMLFieldSetElement;
const cardMethod = element('method-card', document.getElementById('method-card')) as HTMLInputElement;
const testCard = element('test-card', document.getElementById('test-card')) as HTMLSelectElement;

testCard.replaceChildren(...TEST_CARDS.map((card) => new Option(card.label, card.paymentMethod)));
testCard.addEventListener('change', () => (cardMethod.checked = true));

/** The card the shopper chose, or undefined for the wallet. */
function chosenPaymentMethod(): string | undefined {
  return cardMethod.checked ? testCard.value : undefined;
}

/** Shows how a payment pays; while it is undecided the choice is locked, since the payment keeps how it started. */
function showPaymentMethod(paymentMethod: string | undefined, locked: boolean): void {
  if (paymentMethod !== undefined) {
    cardMethod.checked = true;
    testCard.value = paymentMethod;
  } else {
    for (const input of form.querySelectorAll<HTMLInputElement>('input[name="method"]')) input.checked = input.value === 'wallet';
  }
  methods.disabled = locked;
}

function element<T extends Element>(name: string, found: T | null): T {
  if (!found) throw new Error(`the page has no #${name}`);
  return found;
}

function formatMoney(amount: number, currency: string): string {
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() });
  return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
}

function showStatus(state: StatusState, title: string, detail: string | Node[] = '', focus = false): void {
  status.dataset.state = state;
  statusTitle.textContent = title;
  statusDetail.replaceChildren(...(typeof detail === 'string' ? [detail] : detail));
  // A decided payment moves focus to its outcome, so keyboard and screen reader users land on it.
  if (focus) status.focus();
}

function setPayButton(label: string, options: { busy?: boolean; hidden?: boolean } = {}): void {
  const hadFocus = document.activeElement === payButton;
  payLabel.textContent = label;
  payButton.classList.toggle('busy', options.busy ?? false);
  payButton.disabled = (options.busy ?? false) && !keepPayEnabled;
  form.hidden = options.hidden ?? false;
  // A disabled button drops the focus: keep it on the status, which says what is happening.
  if (hadFocus && (payButton.disabled || form.hidden)) status.focus();
}

function renderOrder(order: OrderView): void {
  document.title = `Checkout · ${order.shopName}`;
  element('shop-name', document.getElementById('shop-name')).textContent = order.shopName;
  element('order-id', document.getElementById('order-id')).textContent = `Order ${order.id}`;
  const rows = order.lines.map((line) => {
    const row = document.createElement('tr');
    const name = document.createElement('td');
    name.textContent = line.name;
    const quantity = document.createElement('td');
    quantity.className = 'quantity';
    quantity.textContent = String(line.quantity);
    const price = document.createElement('td');
    price.className = 'money';
    price.textContent = formatMoney(line.quantity * line.unitAmount, order.currency);
    row.append(name, quantity, price);
    return row;
  });
  element('order-lines', document.getElementById('order-lines')).replaceChildren(...rows);
  element('order-total', document.getElementById('order-total')).textContent = formatMoney(order.amount, order.currency);
}

function receipt(payment: PaymentView): Node[] {
  const list = document.createElement('dl');
  list.className = 'receipt';
  const entries: [string, string, string][] = [
    ['Amount', formatMoney(payment.amount, payment.currency), 'receipt-amount'],
    ['Charge', payment.chargeId, 'receipt-charge'],
  ];
  for (const [term, value, id] of entries) {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.id = id;
    dd.textContent = value;
    list.append(dt, dd);
  }
  const thanks = document.createElement('p');
  thanks.textContent = 'Thank you for your order. A receipt is on its way.';
  return [list, thanks];
}

function showPaid(payment: PaymentView, focus: boolean): void {
  setPayButton('Paid', { hidden: true });
  showStatus('paid', 'Payment received', receipt(payment), focus);
}

function showOutcome(order: OrderView, key: string, outcome: PaymentOutcome): void {
  const payAgain = `Pay ${formatMoney(order.amount, order.currency)}`;
  switch (outcome.status) {
    case 'paid':
      keys.forget(order.id, key);
      showPaid(outcome, true);
      return;
    case 'declined':
      keys.forget(order.id, key);
      methods.disabled = false;
      setPayButton(payAgain);
      showStatus(
        'declined',
        'Payment declined',
        `${outcome.detail} ${outcome.reason === 'card_declined' ? 'Try another card or pay from your wallet.' : 'Top up your wallet, then pay again.'}`,
        true,
      );
      return;
    case 'failed':
      keys.forget(order.id, key);
      methods.disabled = false;
      setPayButton(payAgain);
      showStatus('failed', 'Payment not made', outcome.detail, true);
      return;
    case 'unconfirmed':
      // The key stays: checking again with it shows the payment if it went through, and never pays twice.
      setPayButton('Check payment status');
      showStatus('unconfirmed', 'Payment not confirmed yet', `${outcome.detail} Do not pay again: check its status in a moment.`, true);
      return;
  }
}

async function pay(order: OrderView, payment: PendingPayment, resumed: boolean): Promise<void> {
  const { key } = payment;
  activeKey = key;
  showPaymentMethod(payment.paymentMethod, true);
  setPayButton('Paying…', { busy: true });
  if (resumed)
    showStatus('paying', 'Confirming your payment…', 'You pressed Pay before this page reloaded: we are checking how that went.');
  else showStatus('paying', 'Processing your payment…', 'Please keep this page open.');
  const outcome = await payUntilDecided(
    { orderId: order.id, ...payment },
    {
      onUndecided: (_reason, pending) => {
        if (key !== activeKey || settledKeys.has(key)) return;
        if (pending?.chargeId !== undefined) {
          showStatus(
            'confirming',
            'Waiting for your card issuer…',
            'Your card payment has not been confirmed yet. We keep checking with the same payment reference, so you will not be charged twice.',
          );
          return;
        }
        showStatus(
          'confirming',
          'Still confirming your payment…',
          'The payment service has not answered yet. We keep asking with the same payment reference, so you will not be charged twice.',
        );
      },
    },
  );
  if (key !== activeKey || settledKeys.has(key)) return;
  if (outcome.status !== 'unconfirmed') settledKeys.add(key);
  showOutcome(order, key, outcome);
}

async function loadOrder(id: string): Promise<OrderView> {
  const response = await fetch(`/api/orders/${encodeURIComponent(id)}`);
  if (!response.ok) throw new Error(response.status === 404 ? `There is no order ${id}.` : `HTTP ${response.status}`);
  return (await response.json()) as OrderView;
}

async function start(): Promise<void> {
  if (!orderId) {
    showStatus('error', 'No order to pay', 'Open this page from your cart.');
    return;
  }
  let order: OrderView;
  try {
    order = await loadOrder(orderId);
  } catch (error) {
    showStatus(
      'error',
      'We could not load your order',
      `${error instanceof Error ? error.message : String(error)} Reload the page to try again.`,
    );
    return;
  } finally {
    main.removeAttribute('aria-busy');
  }
  renderOrder(order);
  storageNotice.hidden = keys.persistent;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void pay(order, keys.forPayment(order.id, chosenPaymentMethod()), false);
  });
  const pending = keys.pending(order.id);
  if (order.payment) {
    if (pending !== null) keys.forget(order.id, pending.key);
    showPaid(order.payment, false);
    return;
  }
  if (pending !== null) {
    // Pay was pressed before a reload (or in the tab this one was duplicated from): finish that payment, with its key.
    void pay(order, pending, true);
    return;
  }
  setPayButton(`Pay ${formatMoney(order.amount, order.currency)}`);
  showStatus('idle', '');
}

void start();
