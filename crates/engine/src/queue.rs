//! The delivery queue: which resources' delivery may start, released by the apply as each
//! new certificate is ready, so that delivery runs beside the changes.

use certplan_core::{Address, Plan};

/// Which resources' delivery may start: the apply releases each as its certificate is ready
/// (issued, or settled otherwise), and the rest when its changes and waits are over.
pub(crate) struct Queue {
    sender: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<Address>>>,
    /// The resources with delivery work not released yet.
    waiting: std::sync::Mutex<std::collections::BTreeSet<Address>>,
}

impl Queue {
    /// Returns the queue of `plan`'s delivery work, and the receiving end for the apply's delivery (`Run::deliver`).
    pub(crate) fn new(plan: &Plan) -> (Self, tokio::sync::mpsc::UnboundedReceiver<Address>) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let waiting = plan.delivery.iter().map(|d| d.address.clone()).collect();
        let queue = Queue {
            sender: std::sync::Mutex::new(Some(sender)),
            waiting: std::sync::Mutex::new(waiting),
        };
        (queue, receiver)
    }

    /// Lets `address`'s delivery start, unless it has none or started already.
    pub(crate) fn release(&self, address: &Address) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if waiting.remove(address)
            && let Some(sender) = self.sender.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
        {
            let _ = sender.send(address.clone());
        }
    }

    /// Lets every delivery not started yet start, and ends the queue.
    pub(crate) fn release_all(&self) {
        let rest = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|p| p.into_inner()));
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(sender) = sender {
            for address in rest {
                let _ = sender.send(address);
            }
        }
    }
}
