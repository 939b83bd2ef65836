// tsllm's collectives: one Gloo context per rank (TCP transport), built by a full-mesh connect
// through the master's rendezvous store. The connect runs on a libuv worker thread (it waits for
// every rank); the collectives are synchronous, called from the thread that runs the model (the
// engine's worker thread, or a follower rank's loop), never the server's event loop. Gloo reports
// a dead peer or a timeout by throwing; the communicator then refuses every later call, because a
// Gloo context is not usable after a failed operation.
#include <napi.h>

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include "shm-collectives.h"
#include "shm-mailboxes.h"
#include "store-client.h"

namespace tsllm {

namespace {

struct Bytes {
  void* data = nullptr;
  size_t bytes = 0;
};

bool typedArrayBytes(const Napi::Value& v, Bytes& out) {
  if (!v.IsTypedArray()) return false;
  auto a = v.As<Napi::TypedArray>();
  out.data = static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  out.bytes = a.ByteLength();
  return true;
}

}  // namespace

class Communicator : public Napi::ObjectWrap<Communicator> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Communicator", {
        InstanceMethod("connect", &Communicator::connect),
        InstanceMethod("allReduce", &Communicator::allReduce),
        InstanceMethod("allGather", &Communicator::allGather),
        InstanceMethod("broadcast", &Communicator::broadcast),
        InstanceMethod("send", &Communicator::send),
        InstanceMethod("recv", &Communicator::recv),
        InstanceMethod("isend", &Communicator::isend),
        InstanceMethod("waitSends", &Communicator::waitSends),
        InstanceMethod("setTimeout", &Communicator::setTimeout),
        InstanceMethod("close", &Communicator::close),
        InstanceMethod("failure", &Communicator::failureJs),
        InstanceMethod("useSharedMemory", &Communicator::useSharedMemory),
        InstanceMethod("unlinkSharedMemory", &Communicator::unlinkSharedMemory),
        InstanceMethod("activateSharedMemory", &Communicator::activateSharedMemory),
    });
  }

  explicit Communicator(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Communicator>(info) {}

  std::shared_ptr<gloo::rendezvous::Context> context;
  std::unique_ptr<ShmCollectives> shm;
  std::unique_ptr<ShmMailboxes> mailboxes;
  bool shmActive = false;
  std::string failure;

 private:
  // A send through Gloo has its buffer; one through a shared-memory mailbox, its peer and its end in
  // that mailbox's stream.
  struct PendingSend {
    std::unique_ptr<gloo::transport::UnboundBuffer> buffer;
    int mailboxPeer;
    uint64_t mailboxEnd;
    Napi::ObjectReference array;
  };
  std::deque<PendingSend> pending;

  class Connect : public Napi::AsyncWorker {
   public:
    Connect(Communicator* self, Napi::Promise::Deferred deferred, int rank, int size, std::string storeHost, int storePort,
            std::string bindHost, int timeoutMs, std::string hello, std::string prefix)
        : Napi::AsyncWorker(deferred.Env()), self_(self), deferred_(deferred), rank_(rank), size_(size), storeHost_(std::move(storeHost)),
          storePort_(storePort), bindHost_(std::move(bindHost)), timeout_(timeoutMs), hello_(std::move(hello)), prefix_(std::move(prefix)) {}

    void Execute() override {
      try {
        StoreClient store(storeHost_, storePort_, hello_, timeout_);
        gloo::transport::tcp::attr attr;
        attr.hostname = bindHost_;
        auto device = gloo::transport::tcp::CreateDevice(attr);
        auto ctx = std::make_shared<gloo::rendezvous::Context>(rank_, size_);
        ctx->setTimeout(timeout_);
        // A subgroup (one pipeline stage's tensor-parallel ranks) keeps its keys apart from the world's.
        if (prefix_.empty()) {
          ctx->connectFullMesh(store, device);
        } else {
          gloo::rendezvous::PrefixStore prefixed(prefix_, store);
          ctx->connectFullMesh(prefixed, device);
        }
        ctx_ = ctx;
      } catch (const std::exception& e) {
        SetError(e.what());
      }
    }
    void OnOK() override {
      self_->context = ctx_;
      self_->Unref();
      deferred_.Resolve(Env().Undefined());
    }
    void OnError(const Napi::Error& e) override {
      self_->Unref();
      deferred_.Reject(e.Value());
    }

   private:
    Communicator* self_;
    Napi::Promise::Deferred deferred_;
    int rank_, size_;
    std::string storeHost_;
    int storePort_;
    std::string bindHost_;
    std::chrono::milliseconds timeout_;
    std::string hello_;
    std::string prefix_;
    std::shared_ptr<gloo::rendezvous::Context> ctx_;
  };

  // connect({ rank, size, storeHost, storePort, bindHost, timeoutMs, hello, prefix }) -> Promise<void>
  Napi::Value connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto deferred = Napi::Promise::Deferred::New(env);
    if (!info[0].IsObject()) {
      deferred.Reject(Napi::TypeError::New(env, "connect: expected an options object").Value());
      return deferred.Promise();
    }
    auto o = info[0].As<Napi::Object>();
    auto num = [&](const char* k) { return o.Get(k).As<Napi::Number>().Int32Value(); };
    auto str = [&](const char* k) { return o.Get(k).As<Napi::String>().Utf8Value(); };
    auto* w = new Connect(this, deferred, num("rank"), num("size"), str("storeHost"), num("storePort"), str("bindHost"), num("timeoutMs"), str("hello"), o.Has("prefix") ? str("prefix") : std::string());
    w->Queue();
    Ref();  // kept alive until the connect settles
    return deferred.Promise();
  }

  // Runs one collective, turning Gloo's exceptions into a JS error and poisoning the communicator.
  template <class F>
  Napi::Value run(const Napi::CallbackInfo& info, const char* what, F&& op) {
    Napi::Env env = info.Env();
    if (!failure.empty()) {
      Napi::Error::New(env, std::string(what) + ": the communicator failed earlier: " + failure).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!context) {
      Napi::Error::New(env, std::string(what) + ": not connected").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    try {
      op();
    } catch (const std::exception& e) {
      failure = e.what();
      Napi::Error::New(env, std::string(what) + ": " + failure).ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }

  // allReduce(Float32Array) sums in place across ranks.
  Napi::Value allReduce(const Napi::CallbackInfo& info) {
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      Napi::TypeError::New(info.Env(), "allReduce: expected a Float32Array").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    auto a = info[0].As<Napi::Float32Array>();
    return run(info, "allReduce", [&] {
      if (a.ElementLength() == 0) return;
      if (shmActive && a.ByteLength() <= shm->slotBytes()) return shm->allReduceSum(a.Data(), a.ElementLength(), context->getTimeout());
      gloo::AllreduceOptions opts(context);
      opts.setOutput(a.Data(), a.ElementLength());
      opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
      gloo::allreduce(opts);
    });
  }

  // allGather(input, output): output holds every rank's input (equal byte lengths), in rank order.
  Napi::Value allGather(const Napi::CallbackInfo& info) {
    Bytes in, out;
    if (!typedArrayBytes(info[0], in) || !typedArrayBytes(info[1], out) || out.bytes != in.bytes * static_cast<size_t>(context ? context->size : 0)) {
      Napi::TypeError::New(info.Env(), "allGather: expected (input, output) typed arrays with output = world size x input bytes").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    return run(info, "allGather", [&] {
      if (shmActive && in.bytes <= shm->slotBytes()) return shm->allGather(in.data, out.data, in.bytes, context->getTimeout());
      gloo::AllgatherOptions opts(context);
      opts.setInput(static_cast<uint8_t*>(in.data), in.bytes);
      opts.setOutput(static_cast<uint8_t*>(out.data), out.bytes);
      gloo::allgather(opts);
    });
  }

  // broadcast(typedArray, root): root's bytes into every rank's array (equal lengths).
  Napi::Value broadcast(const Napi::CallbackInfo& info) {
    Bytes b;
    if (!typedArrayBytes(info[0], b) || !info[1].IsNumber()) {
      Napi::TypeError::New(info.Env(), "broadcast: expected (typedArray, root)").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    const int root = info[1].As<Napi::Number>().Int32Value();
    return run(info, "broadcast", [&] {
      if (b.bytes == 0) return;
      if (shmActive && b.bytes <= shm->slotBytes()) return shm->broadcast(b.data, b.bytes, root, context->getTimeout());
      gloo::BroadcastOptions opts(context);
      opts.setOutput(static_cast<uint8_t*>(b.data), b.bytes);
      opts.setRoot(root);
      gloo::broadcast(opts);
    });
  }

  // send(typedArray, dst, tag) / recv(typedArray, src, tag): point to point, blocking until done.
  // isend(typedArray, dst, tag): posts a send and returns; the array is kept alive (and must not be
  // written) until waitSends(). A pipeline stage hands its activations on this way and goes on to the
  // next pass, so no two stages ever wait on each other's sends in a cycle.
  enum class P2p { send, recv, isend };
  Napi::Value send(const Napi::CallbackInfo& info) { return pointToPoint(info, P2p::send); }
  Napi::Value recv(const Napi::CallbackInfo& info) { return pointToPoint(info, P2p::recv); }
  Napi::Value isend(const Napi::CallbackInfo& info) { return pointToPoint(info, P2p::isend); }

  Napi::Value pointToPoint(const Napi::CallbackInfo& info, P2p mode) {
    const char* what = mode == P2p::send ? "send" : mode == P2p::recv ? "recv" : "isend";
    Bytes b;
    if (!typedArrayBytes(info[0], b) || !info[1].IsNumber() || !info[2].IsNumber()) {
      Napi::TypeError::New(info.Env(), std::string(what) + (mode == P2p::recv ? ": expected (typedArray, src, tag)" : ": expected (typedArray, dst, tag)")).ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    const int peer = info[1].As<Napi::Number>().Int32Value();
    const uint64_t tag = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
    return run(info, what, [&] {
      if (shmActive && mailboxes && mailboxes->fits(b.bytes)) {
        if (mode == P2p::recv) return mailboxes->recv(b.data, b.bytes, peer, tag, context->getTimeout());
        const uint64_t end = mailboxes->send(b.data, b.bytes, peer, tag, context->getTimeout());
        if (mode == P2p::isend) pending.push_back(PendingSend{nullptr, peer, end, Napi::ObjectReference()});
        else mailboxes->waitConsumed(peer, end, context->getTimeout());
        return;
      }
      auto buf = context->createUnboundBuffer(b.data, b.bytes);
      if (mode == P2p::recv) {
        buf->recv(peer, tag);
        if (!buf->waitRecv(context->getTimeout())) throw std::runtime_error("recv timed out");
        return;
      }
      buf->send(peer, tag);
      if (mode == P2p::isend) {
        pending.push_back(PendingSend{std::move(buf), -1, 0, Napi::Persistent(info[0].As<Napi::Object>())});
      } else if (!buf->waitSend(context->getTimeout())) {
        throw std::runtime_error("send timed out");
      }
    });
  }

  // waitSends(keep = 0): returns once all but the `keep` newest posted isends have completed (oldest
  // first; throws on a dead peer or the timeout). Rank 0 keeps a later pass's sends in flight while it
  // collects an earlier one.
  Napi::Value waitSends(const Napi::CallbackInfo& info) {
    const size_t keep = info.Length() > 0 && info[0].IsNumber() ? static_cast<size_t>(std::max<int64_t>(0, info[0].As<Napi::Number>().Int64Value())) : 0;
    return run(info, "waitSends", [&] {
      while (pending.size() > keep) {
        const PendingSend& p = pending.front();
        if (!p.buffer) mailboxes->waitConsumed(p.mailboxPeer, p.mailboxEnd, context->getTimeout());
        else if (!p.buffer->waitSend(context->getTimeout())) throw std::runtime_error("send timed out");
        pending.pop_front();
      }
    });
  }

  // useSharedMemory(name, create, slotBytes, ringBytes): maps the shared segments `name` (collectives)
  // and `name`.p2p (point-to-point mailboxes), rank 0 creating them; activateSharedMemory() then sends
  // the collectives that fit a slot and the messages that fit a mailbox through them. Every rank must
  // activate at the same point of its sequence of operations.
  Napi::Value useSharedMemory(const Napi::CallbackInfo& info) {
    if (!info[0].IsString() || !info[1].IsBoolean() || !info[2].IsNumber() || !info[3].IsNumber()) {
      Napi::TypeError::New(info.Env(), "useSharedMemory: expected (name, create, slotBytes, ringBytes)").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    return run(info, "useSharedMemory", [&] {
      const std::string name = info[0].As<Napi::String>().Utf8Value();
      const bool create = info[1].As<Napi::Boolean>().Value();
      shm = std::make_unique<ShmCollectives>(name, context->rank, context->size, static_cast<size_t>(info[2].As<Napi::Number>().Int64Value()), create);
      mailboxes = std::make_unique<ShmMailboxes>(name + ".p2p", context->rank, context->size, static_cast<size_t>(info[3].As<Napi::Number>().Int64Value()), create);
    });
  }

  Napi::Value activateSharedMemory(const Napi::CallbackInfo& info) {
    shmActive = shm != nullptr;
    return info.Env().Undefined();
  }

  Napi::Value unlinkSharedMemory(const Napi::CallbackInfo& info) {
    if (shm) shm->unlink();
    if (mailboxes) mailboxes->unlink();
    return info.Env().Undefined();
  }

  Napi::Value setTimeout(const Napi::CallbackInfo& info) {
    if (context && info[0].IsNumber()) context->setTimeout(std::chrono::milliseconds(info[0].As<Napi::Number>().Int64Value()));
    return info.Env().Undefined();
  }

  // The error that broke this communicator, or null while it works.
  Napi::Value failureJs(const Napi::CallbackInfo& info) {
    return failure.empty() ? info.Env().Null() : Napi::String::New(info.Env(), failure);
  }

  Napi::Value close(const Napi::CallbackInfo& info) {
    shmActive = false;
    shm.reset();
    mailboxes.reset();
    pending.clear();
    context.reset();
    return info.Env().Undefined();
  }
};

}  // namespace tsllm

static Napi::Object InitComm(Napi::Env env, Napi::Object exports) {
  exports.Set("Communicator", tsllm::Communicator::define(env));
  return exports;
}

NODE_API_MODULE(tsllm_comm, InitComm)
