from flask import Flask, request, jsonify
from peerpyrtc import SignalingManager

app = Flask(__name__)
signaling_manager = SignalingManager(debug=False)  # Set to False in production

@app.route("/offer", methods=["POST"])
def offer():
    try:
        data = request.json
        if not all(k in data for k in ['room', 'peer_id', 'offer']):
            return jsonify({"error": "Missing required parameters"}), 400
            
        result = signaling_manager.offer(data['room'], data['peer_id'], data['offer'])
        return jsonify({"answer": result})
    except Exception as e:
        return jsonify({"error": str(e)}), 500

@app.route("/candidate", methods=["POST"])
def candidate():
    try:
        data = request.json
        if not all(k in data for k in ['room', 'peer_id', 'candidate']):
            return jsonify({"error": "Missing required parameters"}), 400
            
        signaling_manager.candidate(data['room'], data['peer_id'], data['candidate'])
        return jsonify({"status": "ok"})
    except Exception as e:
        return jsonify({"error": str(e)}), 500

@app.route("/leave", methods=["POST"])
def leave():
    try:
        data = request.json
        if not all(k in data for k in ['room', 'peer_id']):
            return jsonify({"error": "Missing required parameters"}), 400
            
        signaling_manager.leave(data['room'], data['peer_id'])
        return jsonify({"status": "ok"})
    except Exception as e:
        return jsonify({"error": str(e)}), 500
